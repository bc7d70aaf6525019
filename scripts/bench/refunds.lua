-- wrk load for POST /api/orders/{id}/refunds: every request a new key and,
-- until the orders run out, a different order (BENCH-1 … BENCH-<orders>).
-- wrk -t2 -c64 -d15s -s scripts/bench/refunds.lua URL -- <orders> <threads> <token> <run>
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  orders = tonumber(args[1])
  nthreads = tonumber(args[2])
  token = args[3]
  run = args[4]
  sent = 0
  statuses = {}
end

function request()
  local n = id + sent * nthreads
  sent = sent + 1
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = run .. "-" .. n,
    ["Content-Type"] = "application/json",
  }
  local path = "/api/orders/BENCH-" .. ((n % orders) + 1) .. "/refunds"
  return wrk.format("POST", path, headers, '{"amount_cents": 100}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local seconds = summary.duration / 1e6
  for status, count in pairs(totals) do
    io.write(string.format("status %d: %d (%.0f/s)\n", status, count, count / seconds))
  end
  io.write(string.format("latency p50 %.2f ms, p99 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
