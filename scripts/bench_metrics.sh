#!/usr/bin/env bash
# GET /api/metrics under wrk (SPEC §10: ≥ 20,000 req/s with p99 < 5 ms).
#
# The release web server starts in production mode on a throwaway SQLite
# database (the endpoint reads Redis only) and a clean Redis prefix holding one
# day's figures and leaderboards of CUSTOMERS customers, then wrk asks for that
# day's metrics with the top 10. Every response is checked (wrk exits non-zero
# when a non-2xx answer came back, see scripts/bench/metrics.lua).
#
#   bash scripts/bench_metrics.sh        # DURATION=15s CONNECTIONS=64 THREADS=1 CUSTOMERS=10000
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
CUSTOMERS="${CUSTOMERS:-10000}"
PORT="${PORT:-5191}"
PREFIX="orders-flow:bench-metrics:$$"
DAY="$(date -u +%F)"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/orders-flow-cli}"

source scripts/bench/api_server.sh
[[ -x "$BIN" ]] || cargo build --release --bin orders-flow-cli

work=$(mktemp -d /tmp/orders-flow-bench-metrics.XXXXXX)
export DATABASE_URL="sqlite://$work/metrics.sqlite?mode=rwc" REDIS_PREFIX="$PREFIX" API_TOKENS=bench-token

cleanup() {
  [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli DEL >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# One day's figures and both boards, as the KPI drainer would have left them.
redis-cli HSET "$PREFIX:kpi:day:$DAY" revenue_cents 123456789 order_count 98765 \
  failed_count 1234 refund_count 56 refunded_cents 78900 >/dev/null
# Both boards through redis-cli --pipe, written in Redis's wire protocol (RESP)
# by awk: every argument is ASCII, so its length in bytes is its length.
awk -v n="$CUSTOMERS" -v prefix="$PREFIX" -v day="$DAY" '
  function arg(a) { printf "$%d\r\n%s\r\n", length(a), a }
  BEGIN {
    keys[1] = prefix ":kpi:lb:all"; keys[2] = prefix ":kpi:lb:day:" day
    for (k = 1; k <= 2; k++)
      for (i = 1; i <= n; i++) {
        printf "*4\r\n"; arg("ZADD"); arg(keys[k]); arg((i * 7919) % 1000003); arg(sprintf("CUST-%06d", i))
      }
  }' | redis-cli --pipe >/dev/null

"$BIN" db migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
"$BIN" start --no-banner >"$work/web.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/_ping" >/dev/null && break; sleep 0.1; done

url="http://127.0.0.1:$PORT/api/metrics?date=$DAY&limit=10"
curl -sf -H "Authorization: Bearer $API_TOKENS" "$url" | head -c 300; echo
echo "[bench] wrk -t$THREADS -c$CONNECTIONS -d$DURATION $url (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $API_TOKENS" \
  -s scripts/bench/metrics.lua "$url"
echo "[bench] server CPU seconds: $(awk '{printf "%.1f", ($14 + $15) / 100}' "/proc/$server/stat"), peak RSS $(awk '/VmHWM/ {print $2 $3}' "/proc/$server/status")"
