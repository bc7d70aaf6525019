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
export LOG_LEVEL="${LOG_LEVEL:-info}"
bin=./target/release/orders-flow-cli

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
for _ in $(seq 1 100); do curl -fs "$base/_health" >/dev/null && break; sleep 0.2; done
curl -fs "$base/_health" >/dev/null || { echo "web server did not start; see log/web.log"; exit 1; }

echo "==> asking the workers for a sign of life (canary job)"
before=$(curl -fs "$base/api/ops/canary" | sed -E 's/.*"runs":([0-9]+).*/\1/')
curl -fs -X POST -H "Authorization: Bearer ${API_TOKENS%%,*}" "$base/api/ops/canary" >/dev/null
for _ in $(seq 1 150); do
  report=$(curl -fs "$base/api/ops/canary")
  runs=$(sed -E 's/.*"runs":([0-9]+).*/\1/' <<<"$report")
  [[ "$runs" -gt "$before" ]] && break
  sleep 0.2
done
echo "    $report"
echo "==> queues"
"$bin" task queues_status 2>/dev/null

cat <<INFO

orders-flow is running (web pid $web, worker pid $worker; logs in log/):
  $base/_health              liveness
  $base/api/queues           queue depths
  $base/api/ops/canary       last worker sign of life
Not built yet: import, order workflow, refunds and KPIs (see the issues).
INFO

if $exit_after; then exit 0; fi
echo "Ctrl-C to stop."
wait
