#!/usr/bin/env bash
# Accepted refunds per second through the HTTP API (SPEC §10: ≥ 5,000/s).
#
# A throwaway PostgreSQL database gets ORDERS paid orders (written with SQL:
# the refund path is measured, not the workflow), the release web server
# starts on it, and wrk sends refund requests, each with a new Idempotency-Key
# and a different order. Every 202 has reserved the amount, written the refund
# and its stored response (one transaction, durable commit) and queued the
# refund job in Redis. The jobs are not run (no worker): only the API is timed.
#
#   bash scripts/bench_refunds.sh            # ORDERS=200000 DURATION=15s CONNECTIONS=64
#
# PG_PARAMS is appended to the server's database URL, e.g. `?sslmode=disable`
# (sqlx's default, `prefer`, encrypts even on loopback when the server has TLS on)
# or `?statement-cache-capacity=1000` (sqlx keeps 100 prepared statements per connection).
# BIN picks the server binary (default: the release build under CARGO_TARGET_DIR,
# else target/). REFUND_BATCH_SIZE / REFUND_BATCH_WINDOW_MS / DB_MAX_CONNECTIONS
# are passed through to the server. The load average is printed before and after:
# on a shared machine it says how much of it the run had.
set -euo pipefail
cd "$(dirname "$0")/.."

ORDERS="${ORDERS:-200000}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PORT="${PORT:-5192}"  # not bench.sh's 5190: both may run on one machine
DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-32}"
PG_SERVER="${PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
DB="orders_flow_bench_refunds"
TOKEN="bench-token"
RUN="run$(date +%s)"
PREFIX="orders-flow:bench-refunds"

source scripts/bench/api_server.sh
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/orders-flow-cli}"
[[ -x "$BIN" ]] || cargo build --release --bin orders-flow-cli

psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"

DB_URL="$PG_SERVER/$DB"  # for psql, which knows fewer URL parameters than sqlx
export DATABASE_URL="$DB_URL${PG_PARAMS:-}" REDIS_PREFIX="$PREFIX" API_TOKENS="$TOKEN"
export DB_MAX_CONNECTIONS
"$BIN" start >/tmp/orders-flow-bench-refunds.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/_ping" >/dev/null && break; sleep 0.2; done
kill -0 $server 2>/dev/null && curl -sf "http://127.0.0.1:$PORT/_ping" >/dev/null || {
  echo "[bench] the server did not start:" >&2; tail -5 /tmp/orders-flow-bench-refunds.log >&2; exit 1; }

psql "$DB_URL" -q <<SQL
INSERT INTO customers (external_id, name)
  SELECT 'BENCH-C-' || g, 'Bench customer ' || g FROM generate_series(1, $ORDERS) g;
INSERT INTO orders (external_id, customer_id, status, currency, total_cents, placed_at, paid_at, finished_at)
  SELECT 'BENCH-' || g, c.id, 'paid', 'EUR', 10000, now(), now(), now()
  FROM generate_series(1, $ORDERS) g JOIN customers c ON c.external_id = 'BENCH-C-' || g;
ANALYZE;
SQL

echo "[bench] $ORDERS paid orders; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; pool $DB_MAX_CONNECTIONS connections;" \
  "batch ${REFUND_BATCH_SIZE:-default} / ${REFUND_BATCH_WINDOW_MS:-default} ms"
echo "[bench] before: $(uptime)"
commits_before=$(psql "$DB_URL" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
# CPU time (clock ticks) of the server and of this database's backends: per refund,
# it says what the run cost, which a shared machine's contention does not change much.
ticks() { for pid in "$@"; do awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0; done | paste -sd+ | bc; }
backends() { psql "$DB_URL" -Atc "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"; }
server_ticks=$(ticks $server)
declare -A pg_ticks
for pid in $(backends); do pg_ticks[$pid]=$(ticks "$pid"); done
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/bench/refunds.lua \
  "http://127.0.0.1:$PORT" -- "$ORDERS" "$THREADS" "$TOKEN" "$RUN"

echo "[bench] after:  $(uptime)"
server_ticks=$(( $(ticks $server) - server_ticks ))
pg_used=0
for pid in $(backends); do pg_used=$(( pg_used + $(ticks "$pid") - ${pg_ticks[$pid]:-0} )); done
refunds=$(psql "$DB_URL" -Atc "SELECT count(*) FROM refunds")
hz=$(getconf CLK_TCK)
echo "[bench] CPU per refund: server $(( server_ticks * 1000000 / hz / (refunds > 0 ? refunds : 1) )) µs," \
  "PostgreSQL $(( pg_used * 1000000 / hz / (refunds > 0 ? refunds : 1) )) µs ($refunds refunds)"
psql "$DB_URL" -Atc "SELECT 'refund rows: ' || count(*) || ', distinct orders: ' || count(DISTINCT order_id) FROM refunds"
kill $server; wait $server 2>/dev/null || true
trap - EXIT
sleep 1  # the server's connections report their statistics as they close
psql "$DB_URL" -Atc "SELECT 'commits: ' || (xact_commit - $commits_before) || ' (' ||
  round((SELECT count(*) FROM refunds)::numeric / greatest(xact_commit - $commits_before, 1), 1) ||
  ' refunds per commit, the scripts psql calls included)' FROM pg_stat_database WHERE datname = current_database()"
psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli DEL >/dev/null
