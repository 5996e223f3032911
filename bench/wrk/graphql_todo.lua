-- wrk script: the GraphQL query todo(id) with a random id from an ids file per request,
-- selecting every field REST's GET /v1/todos/{id} returns, so both do the same work.
--
--   WRK_BEARER=<token> wrk -t2 -c64 -d10s --latency -s graphql_todo.lua \
--     http://127.0.0.1:8080 -- /tmp/app-ids.txt
--
-- Every response is checked for "errors": a GraphQL error answers 200, so wrk alone would
-- count it as a success. done() prints the harness's RESULT line, with such errors in non2xx.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local ids, nids
failed = 0 -- a global: done() reads it from each thread

local query = "query($id: ID!) { todo(id: $id) { id title description tags dueDate status completedAt version createdAt updatedAt } }"

function init(args)
   ids = {}
   local f = assert(io.open(args[1] or "/tmp/app-ids.txt", "r"), "cannot open the ids file")
   for line in f:lines() do
      if #line > 0 then ids[#ids + 1] = line end
   end
   f:close()
   nids = #ids
   math.randomseed(os.time() + #tostring({}))
   wrk.method = "POST"
   wrk.path = "/graphql"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("WRK_BEARER"), "set WRK_BEARER")
end

function request()
   local id = ids[math.random(1, nids)]
   local body = '{"query":"' .. query .. '","variables":{"id":"' .. id .. '"}}'
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   if status ~= 200 or body:find('"errors"', 1, true) then
      failed = failed + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, thread in ipairs(threads) do
      bad = bad + thread:get("failed")
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d sock_err=%d\n",
      summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      summary.requests, bad, e.connect + e.read + e.write + e.timeout))
end
