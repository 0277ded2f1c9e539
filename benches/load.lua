-- wrk script for benches/load.sh. The path (first argument after `--`) may hold {id}, replaced
-- on every request by a random conversation id from the file named by $IDS, and {q},
-- replaced by a random search word. At the end it prints one line that load.sh parses:
-- requests per second, latency percentiles in milliseconds, and failed requests.

local ids = {}
local words = { "order", "refund", "parcel", "invoice", "password", "replacement", "Petrov", "заказ" }
local template = "/"

function init(args)
  template = args[1] or "/"
  local file = io.open(os.getenv("IDS") or "ids.txt", "r")
  if file then
    for line in file:lines() do
      ids[#ids + 1] = line
    end
    file:close()
  end
  math.randomseed(os.time() + #tostring({}))
end

local function escape(s)
  return (s:gsub("[^%w%-_.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  local path = template
  if #ids > 0 then
    path = path:gsub("{id}", ids[math.random(#ids)])
  end
  -- A "%" in a gsub replacement is an escape character: double it.
  path = path:gsub("{q}", (escape(words[math.random(#words)]):gsub("%%", "%%%%")))
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50=%.2f p95=%.2f p99=%.2f max=%.2f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
