#!/usr/bin/env bash
# The import benchmark of BENCHMARKS.md: generate N orders (once), then import
# them with one worker process running, on a fresh SQLite or PostgreSQL database.
#
#   cargo build --release
#   bash scripts/bench-import.sh sqlite [orders]
#   bash scripts/bench-import.sh postgres [orders]
#
# Needs Redis, sqlite3 or psql, and /usr/bin/time. Everything it writes to Redis
# is under a prefix of its own, removed at the end; files go to $BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

KIND=${1:?usage: bench-import.sh sqlite|postgres [orders]}
ORDERS=${2:-1000000}
BIN=target/release/orders-flow-cli
WORK=${BENCH_DIR:-/tmp/orders-flow-bench}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
FILE="$WORK/orders-$ORDERS.csv"
mkdir -p "$WORK"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }

export LOCO_ENV=development LOG_LEVEL=warn REDIS_PREFIX="orders-flow:bench:$$"
case "$KIND" in
  sqlite)
    rm -f "$WORK"/bench.sqlite*
    export DATABASE_URL="sqlite://$WORK/bench.sqlite?mode=rwc"
    sql() { sqlite3 "$WORK/bench.sqlite" "$1"; } ;;
  postgres)
    DB="of_bench_$$"
    psql "$PG_SERVER/postgres" -qc "CREATE DATABASE $DB"
    export DATABASE_URL="$PG_SERVER/$DB"
    sql() { psql "$DATABASE_URL" -tAc "$1"; } ;;
  *) echo "unknown database kind $KIND" >&2; exit 1 ;;
esac

if [ ! -f "$FILE" ]; then
  echo "== orders_generate ($ORDERS orders)"
  /usr/bin/time -v "$BIN" task orders_generate file="$FILE" orders="$ORDERS" 2> "$WORK/generate.time"
  grep -E "Elapsed|Maximum resident" "$WORK/generate.time"
fi
"$BIN" db migrate > /dev/null

"$BIN" start --worker > "$WORK/worker-$KIND.log" 2>&1 &
WORKER=$!
cleanup() {
  kill "$WORKER" 2>/dev/null || true
  wait "$WORKER" 2>/dev/null || true
  redis-cli --scan --pattern "$REDIS_PREFIX:*" | xargs -r -n 500 redis-cli DEL > /dev/null
}
trap cleanup EXIT
until "$BIN" task queues_status queue=orders:import format=json 2>/dev/null | grep -q '"workers": [1-9]'; do
  sleep 0.5
done

echo "== orders_import on $KIND ($(nproc) cores, $(uname -r))"
/usr/bin/time -v "$BIN" task orders_import file="$FILE" > "$WORK/import-$KIND.out" 2> "$WORK/import-$KIND.time"
cat "$WORK/import-$KIND.out"
grep -E "Elapsed|Maximum resident|Percent of CPU" "$WORK/import-$KIND.time"
echo "== imports row"
sql "SELECT id, state, rows_read, orders_created, chunks_total, chunks_done, created_at, finished_at FROM imports"
"$BIN" task queues_status
