#!/usr/bin/env bash
# The import benchmark of BENCHMARKS.md: generate N orders (once), then import
# them with one worker process running, on a fresh SQLite or PostgreSQL database.
#
#   cargo build --release
#   bash scripts/bench-import.sh sqlite [orders]
#   bash scripts/bench-import.sh postgres [orders]
#
# Needs redis-server, sqlite3 or psql, and /usr/bin/time. It runs a Redis of its
# own (port $BENCH_REDIS_PORT, no persistence, stopped at the end): a million
# queued workflow jobs must not slow down, or be slowed down by, anybody else's
# Redis. Files go to $BENCH_DIR; the database is dropped at the end unless
# BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

KIND=${1:?usage: bench-import.sh sqlite|postgres [orders]}
ORDERS=${2:-1000000}
BIN=${CARGO_TARGET_DIR:-target}/release/orders-flow-cli
WORK=${BENCH_DIR:-/tmp/orders-flow-bench}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
REDIS_PORT=${BENCH_REDIS_PORT:-6390}
FILE="$WORK/orders-$ORDERS.csv"
mkdir -p "$WORK"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
case "$KIND" in sqlite|postgres) ;; *) echo "unknown database kind $KIND" >&2; exit 1 ;; esac

WORKER=""
DB=""
redis-server --port "$REDIS_PORT" --save '' --appendonly no > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
cleanup() {
  [ -n "$WORKER" ] && { kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true; }
  redis-cli -p "$REDIS_PORT" info memory 2>/dev/null | grep -E '^used_memory_human' || true
  kill "$REDIS_PID" 2>/dev/null || true
  if [ -n "$DB" ] && [ -z "${BENCH_KEEP:-}" ]; then
    psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  fi
}
trap cleanup EXIT
until redis-cli -p "$REDIS_PORT" ping > /dev/null 2>&1; do sleep 0.2; done

export LOCO_ENV=development LOG_LEVEL=warn REDIS_PREFIX="orders-flow:bench"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
if [ "$KIND" = sqlite ]; then
  rm -f "$WORK"/bench.sqlite*
  export DATABASE_URL="sqlite://$WORK/bench.sqlite?mode=rwc"
  sql() { sqlite3 "$WORK/bench.sqlite" "$1"; }
else
  DB="of_bench_$$"
  psql "$PG_SERVER/postgres" -qc "CREATE DATABASE $DB"
  export DATABASE_URL="$PG_SERVER/$DB"
  sql() { psql "$DATABASE_URL" -tAc "$1"; }
fi

if [ ! -f "$FILE" ]; then
  echo "== orders_generate ($ORDERS orders)"
  /usr/bin/time -v "$BIN" task orders_generate file="$FILE" orders="$ORDERS" 2> "$WORK/generate.time"
  grep -E "Elapsed|Maximum resident" "$WORK/generate.time"
fi
"$BIN" db migrate > /dev/null

"$BIN" start --worker > "$WORK/worker-$KIND.log" 2>&1 &
WORKER=$!
until "$BIN" task queues_status queue=orders:import format=json 2>/dev/null | grep -q '"workers": [1-9]'; do
  sleep 0.5
done

echo "== orders_import on $KIND ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/time -v "$BIN" task orders_import file="$FILE" > "$WORK/import-$KIND.out" 2> "$WORK/import-$KIND.time" || true
cat "$WORK/import-$KIND.out"
grep -vE '^\s' "$WORK/import-$KIND.time" || true
grep -E "User time|System time|Percent of CPU|Elapsed|Maximum resident" "$WORK/import-$KIND.time"
echo "== imports row"
sql "SELECT id, state, rows_read, orders_created, chunks_total, chunks_done, created_at, finished_at FROM imports"
"$BIN" task queues_status
echo "== worker process: CPU time $(ps -o cputime= -p "$WORKER"), warnings $(grep -c WARN "$WORK/worker-$KIND.log" || true)"
