-- wrk script for bench/ingest.py: POST pre-signed Okendo webhooks, each one once.
--
-- wrk ... -s bench/wrk_requests.lua URL -- REQUESTS_FILE TEMPLATE_FILE NTHREADS
--   REQUESTS_FILE: one line per request, "webhook-id timestamp signature reviewId"
--   TEMPLATE_FILE: the JSON body with @@REVIEW_ID@@ where the line's reviewId goes
-- Thread k takes lines k, k+n, k+2n, ... so no two threads send the same webhook-id.
-- When a thread runs out of lines it starts again ("wrapped"): the bridge answers those
-- 200 (duplicate), which the summary counts separately, so size the file generously.
-- The summary is one line "BENCH_JSON {...}" on stdout, read by bench/loadgen.py.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

function init(args)
   local requests_file, template_file, nthreads = args[1], args[2], tonumber(args[3])
   local f = assert(io.open(template_file, "rb"))
   local tpl = f:read("*a")
   f:close()
   local s, e = string.find(tpl, "@@REVIEW_ID@@", 1, true)
   prefix, suffix = tpl:sub(1, s - 1), tpl:sub(e + 1)
   lines = {}
   local i = 0
   for line in io.lines(requests_file) do
      if i % nthreads == tid then
         local id, ts, sig, rid = line:match("^(%S+) (%S+) (%S+) (%S+)$")
         lines[#lines + 1] = {id, ts, sig, rid}
      end
      i = i + 1
   end
   pos = 0
   wrapped = 0
   s2xx, s200, s202, s401, s4xx, s5xx, sother = 0, 0, 0, 0, 0, 0, 0
end

function request()
   pos = pos + 1
   if pos > #lines then
      pos = 1
      wrapped = wrapped + 1
   end
   local r = lines[pos]
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json",
      ["webhook-id"] = r[1],
      ["webhook-timestamp"] = r[2],
      ["webhook-signature"] = r[3],
   }, prefix .. r[4] .. suffix)
end

function response(status, headers, body)
   if status == 202 then s202 = s202 + 1
   elseif status == 200 then s200 = s200 + 1
   elseif status == 401 then s401 = s401 + 1
   elseif status >= 200 and status < 300 then s2xx = s2xx + 1
   elseif status >= 400 and status < 500 then s4xx = s4xx + 1
   elseif status >= 500 then s5xx = s5xx + 1
   else sother = sother + 1 end
end

function done(summary, latency, requests)
   local c = {s200 = 0, s202 = 0, s2xx = 0, s401 = 0, s4xx = 0, s5xx = 0, sother = 0, wrapped = 0}
   for _, t in ipairs(threads) do
      for k, _ in pairs(c) do
         c[k] = c[k] + (t:get(k) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, ' ..
      '"statuses": {"200": %d, "202": %d, "other_2xx": %d, "401": %d, "other_4xx": %d, "5xx": %d, "other": %d}, ' ..
      '"wrapped": %d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max,
      c.s200, c.s202, c.s2xx, c.s401, c.s4xx, c.s5xx, c.sother, c.wrapped))
end
