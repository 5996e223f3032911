-- wrk script: POST /v1/sessions with the storm user's credentials, as fast as possible.
--
--   wrk -t2 -c200 -d15s --latency -s log_in.lua http://127.0.0.1:8080
--
-- done() prints a RESULT line like the other scripts, plus how many answers were 201 and
-- how many 503 (shed by the password-hashing bound).

created, shed, other = 0, 0, 0 -- globals: done() reads them from each thread
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   wrk.method = "POST"
   wrk.path = "/v1/sessions"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"email":"storm@example.org","password":"storm-password"}'
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   elseif status == 503 then
      shed = shed + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local c, s, o = 0, 0, 0
   for _, thread in ipairs(threads) do
      c = c + thread:get("created")
      s = s + thread:get("shed")
      o = o + thread:get("other")
   end
   local secs = summary.duration / 1e6
   io.write(string.format(
      "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f created=%d shed_503=%d other=%d sock_err=%d\n",
      summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, c, s, o,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
