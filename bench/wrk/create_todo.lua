-- wrk script: POST /v1/todos with a bearer token, one new todo per request.
--
--   WRK_BEARER=<token> wrk -t2 -c64 -d10s --latency -s create_todo.lua http://127.0.0.1:8080
--
-- Titles start with "bench-post" so the run can delete what it created. done() prints the
-- same RESULT line as the shared harness's scripts, so one parser reads both.

function init(args)
   wrk.method = "POST"
   wrk.path = "/v1/todos"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("WRK_BEARER"), "set WRK_BEARER")
   wrk.body = '{"title":"bench-post wrk","tags":["bench"]}'
end

function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sock_err=%d\n",
      summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
