#!/usr/bin/env bash
# The demo on the embedded default (SQLite): makes sure Redis runs, builds,
# migrates, starts the web server and a worker process (as the Procfile does),
# drives what exists of the pipeline, prints what to look at, and keeps
# running until Ctrl-C (or exits at once with --exit).
set -euo pipefail
cd "$(dirname "$0")/.."

exit_after=false
[[ "${1:-}" == "--exit" ]] && exit_after=true

bash scripts/services.sh

export LOCO_ENV=development
export PORT="${PORT:-5150}"
export API_TOKENS="${API_TOKENS:-dev-token}"
# The first token, without its scopes (`tok:read+ops` → `tok`).
token="${API_TOKENS%%,*}"
token="${token%%:*}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
bin=${CARGO_TARGET_DIR:-./target}/release/orders-flow-cli

echo "==> building (release; the first build takes several minutes)"
cargo build --release --quiet

echo "==> migrating the SQLite database"
"$bin" db migrate >/dev/null

mkdir -p log
"$bin" start --no-banner >log/web.log 2>&1 &
web=$!
"$bin" start --worker --no-banner >log/worker.log 2>&1 &
worker=$!
stop() { kill -TERM "$web" "$worker" 2>/dev/null || true; wait "$web" "$worker" 2>/dev/null || true; }
trap stop EXIT

base="http://localhost:$PORT"
for _ in $(seq 1 100); do curl -fs -H "Authorization: Bearer $token" "$base/_health" >/dev/null && break; sleep 0.2; done
curl -fs -H "Authorization: Bearer $token" "$base/_health" >/dev/null || { echo "web server did not start; see log/web.log"; exit 1; }

echo "==> asking the workers for a sign of life (canary job)"
before=$(curl -fs -H "Authorization: Bearer $token" "$base/api/ops/canary" | sed -E 's/.*"runs":([0-9]+).*/\1/')
curl -fs -X POST -H "Authorization: Bearer $token" "$base/api/ops/canary" >/dev/null
for _ in $(seq 1 150); do
  report=$(curl -fs -H "Authorization: Bearer $token" "$base/api/ops/canary")
  runs=$(sed -E 's/.*"runs":([0-9]+).*/\1/' <<<"$report")
  [[ "$runs" -gt "$before" ]] && break
  sleep 0.2
done
echo "    $report"

orders="${DEMO_ORDERS:-5000}"
csv="log/demo-orders.csv"
echo "==> generating $orders orders ($csv) and importing them"
"$bin" task orders_generate "file=$csv" "orders=$orders" seed=7 2>/dev/null
# Exits 0 only when every chunk is committed; otherwise say why and stop.
if ! import_out=$("$bin" task orders_import "file=$csv" 2>log/demo-import.err); then
  echo "$import_out"
  echo "the import did not complete:"
  grep -v '^\s*$' log/demo-import.err | tail -n 3
  exit 1
fi
echo "$import_out"
# The summary's first line, `import N (FORMAT format, FILE): STATE`, names it
# whether the task waited or not.
import_id=$(sed -nE 's#^import ([0-9]+) \(.*#\1#p' <<<"$import_out" | head -n 1)

echo "==> waiting until every order is paid or failed and notified"
for _ in $(seq 1 600); do
  # `settled`: no order open, no notification queued, no KPI event waiting.
  "$bin" task orders_status format=json 2>/dev/null | grep -q '"settled":true' && break
  sleep 0.5
done
"$bin" task orders_status 2>/dev/null
echo "==> checking the run (cargo loco task orders_check)"
"$bin" task orders_check ${import_id:+"import=$import_id"} 2>&1 | grep -v '^$' || true

# The generator writes the order's id, then its time: the first row's day.
day=$(sed -n 2p "$csv" | cut -d, -f2 | cut -c1-10)
echo "==> KPIs of $day (GET /api/metrics?date=$day&limit=3)"
curl -fs -H "Authorization: Bearer $token" "$base/api/metrics?date=$day&limit=3"; echo

cat <<INFO

orders-flow is running (web pid $web, worker pid $worker; logs in log/):
  $base/api/metrics?date=$day     KPIs of a day and the top customers
  $base/api/metrics/range?from=$day&to=$day
  $base/api/leaderboard           customers by net revenue
  $base/api/imports/$import_id             the import just run
  $base/api/orders/{id}           an order with items, payments, refunds, notifications
  $base/dashboard                 queues: counts, workers, dead jobs (log in at /console/login with the token)
  $base/dashboard/kpis            revenue and orders per day, top customers
  $base/metrics                   Prometheus metrics
  $base/api/queues                queue depths
  $base/api/ops/canary            last worker sign of life
Refund an order:  curl -X POST -H "Authorization: Bearer $token" \\
  -H "Idempotency-Key: demo-1" -H "Content-Type: application/json" \\
  -d '{"amount_cents": 500}' $base/api/orders/<order id>/refunds
INFO

if $exit_after; then exit 0; fi
echo "Ctrl-C to stop."
wait
