-- wrk script of benches/load.sh and benches/load_many.sh: requests the paths of the file
-- $PATHS in turn (each thread from a random start), with the API key $KEY and gzip, and
-- prints one RESULT line (requests, non-2xx/3xx, 5xx, socket errors, p50/p99, req/s) that
-- the scripts check.
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local key = os.getenv("KEY")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  i = math.random(#paths); bad = 0; server_errors = 0
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["X-API-Key"] = key, ["Accept-Encoding"] = "gzip" })
end
function response(status, headers, body)
  if status >= 400 then bad = bad + 1 end
  if status >= 500 then server_errors = server_errors + 1 end
end
function done(summary, latency, requests)
  local b, s = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); s = s + t:get("server_errors") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d non2xx3xx=%d status5xx=%d connect=%d read=%d write=%d timeout=%d p50_ms=%.2f p99_ms=%.2f rps=%.0f\n",
    summary.requests, b, s, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
