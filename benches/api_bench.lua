-- wrk script of benches/api_bench.py: POST /api/v1/purchases, each request with its own
-- Idempotency-Key and the next member of a rotating list (every thread starts at its own place).
-- Settings from the environment: KIMIA_BENCH_KEY (an integration key), KIMIA_BENCH_MERCHANT,
-- KIMIA_BENCH_MEMBERS (card numbers, comma-separated), KIMIA_BENCH_RUN (makes the keys unique
-- across runs). Answers other than 2xx are counted (wrk's own count includes them) and printed
-- by done() as one line: "kimia-bench {json}".

-- KIMIA_BENCH_MODE=healthz: GET /healthz instead (the bare JSON endpoint under the same server).
-- thread_id and non2xx are globals: wrk's thread:set and thread:get reach only globals.

local threads = {}
local counter = 0
thread_id = 0
non2xx = 0
local members = {}
local healthz = os.getenv("KIMIA_BENCH_MODE") == "healthz"

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for card in string.gmatch(os.getenv("KIMIA_BENCH_MEMBERS") or "", "[^,]+") do
    table.insert(members, card)
  end
  counter = thread_id * 7919
end

local key = os.getenv("KIMIA_BENCH_KEY") or ""
local merchant = os.getenv("KIMIA_BENCH_MERCHANT") or "1"
local run = os.getenv("KIMIA_BENCH_RUN") or "run"

function request()
  counter = counter + 1
  if healthz then
    return wrk.format("GET", "/healthz")
  end
  local member = members[(counter % #members) + 1]
  local body = '{"merchant_id": ' .. merchant .. ', "member": {"kind": "card", "value": "' .. member ..
      '"}, "amount_rial": ' .. (100000 + (counter % 50) * 20000) .. '}'
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run .. "-" .. thread_id .. "-" .. counter,
  }
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("non2xx")
  end
  io.write(string.format(
    'kimia-bench {"requests": %d, "non2xx": %d, "socket_errors": %d, "duration_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, errors,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
