#!/usr/bin/env bash
# End-to-end benchmark of the whole pipeline, from a release build:
# generate N orders → import → workflow → notifications → KPIs, then check that
# nothing was lost (every order terminal, every notification written, KPIs equal
# to the database, stock conserved) and report the figures.
#
#   bash scripts/bench.sh --mode metrics|refunds|stream
#   bash scripts/bench.sh [--orders N] [--workers K] [--db postgres|sqlite]
#                         [--payment-latency-ms MS] [--results FILE] [--check] [--keep] [--debug]
#                         [--pg-socket]
#
# PostgreSQL is reached over TCP (127.0.0.1:5432, or BENCH_POSTGRES_URL), as production
# connects; --pg-socket uses the local Unix socket instead.
# --check exits non-zero unless every check passed (CI runs a small one).
# --keep keeps the logs and the Redis keys of a run that passed, too.
# --debug uses the debug build (CI has it already; figures are then meaningless).
# BENCH_STALL_SECS (default 120): a run in which nothing moves that long fails.
# STOCK_INITIAL (default 100, config/development.yaml): each product's stock. At 100 the
# generated demand outruns it within the first tens of thousands of orders and most
# orders fail for lack of stock; at 1000000000 every order is reserved and charged.
# BENCH_BIN=path: run that binary instead of building this checkout (an A/B run of two
# builds on one host: copy the other build's target/release/orders-flow-cli aside first).
# Build the other checkout with its own CARGO_TARGET_DIR: sharing this one, cargo took
# the other checkout's `migration` crate for this one's next build (seen: a binary
# without migration 9).
# Results are printed and appended as a CSV row to bench/results.csv.
set -euo pipefail
cd "$(dirname "$0")/.."

# The other modes: `--mode metrics` (GET /api/metrics under wrk),
# `--mode refunds` (accepted refunds per second) and `--mode stream` (orders
# arriving at a fixed rate: latency and memory under a steady stream); their
# knobs are environment variables, see the header of each script.
if [[ "${1:-}" == --mode ]]; then
  case "${2:-}" in
    metrics) exec bash scripts/bench_metrics.sh ;;
    refunds) exec bash scripts/bench_refunds.sh ;;
    stream) exec bash scripts/bench_stream.sh ;;
    pipeline) shift 2 ;;
    *) echo "--mode is pipeline (the default), metrics, refunds or stream" >&2; exit 2 ;;
  esac
fi

orders=1000000
workers=2
db=postgres
latency=0
results=bench/results.csv
check=false
keep=false
profile=release
pg_socket=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --orders) orders="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --payment-latency-ms) latency="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --check) check=true; shift ;;
    --keep) keep=true; shift ;;
    --debug) profile=debug; shift ;;
    --pg-socket) pg_socket=true; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ "$orders" =~ ^[0-9]+$ && "$workers" =~ ^[0-9]+$ && "$latency" =~ ^[0-9]+$ ]] \
  || { echo "--orders, --workers and --payment-latency-ms take whole numbers" >&2; exit 2; }
[[ "$db" == postgres || "$db" == sqlite ]] || { echo "--db is postgres or sqlite" >&2; exit 2; }
stall_secs="${BENCH_STALL_SECS:-120}"
[[ "$stall_secs" =~ ^[0-9]+$ && "$stall_secs" -gt 0 ]] \
  || { echo "BENCH_STALL_SECS takes a whole number of seconds above 0" >&2; exit 2; }

if [[ "$db" == postgres ]]; then bash scripts/services.sh --postgres; else bash scripts/services.sh; fi
if ! command -v bc >/dev/null || [[ ! -x /usr/bin/time ]]; then
  echo "==> installing bc and time (Debian packages)"
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc time >/dev/null
fi
if [[ -n "${BENCH_BIN:-}" ]]; then
  # Another build (a copy of an older commit's binary, say) for an A/B run on one host.
  [[ -x "$BENCH_BIN" ]] || { echo "BENCH_BIN=$BENCH_BIN is not an executable" >&2; exit 2; }
  echo "==> using $BENCH_BIN"
  bin=$BENCH_BIN
else
  echo "==> $profile build"
  if [[ "$profile" == release ]]; then cargo build --release --quiet; else cargo build --quiet; fi
  # cargo puts it under CARGO_TARGET_DIR when that is set.
  bin=${CARGO_TARGET_DIR:-$PWD/target}/$profile/orders-flow-cli
fi

run_id="$(date +%Y%m%d-%H%M%S)-$$"
work=$(mktemp -d /tmp/orders-flow-bench.XXXXXX)
export LOCO_ENV=development
export LOG_LEVEL=warn
export REDIS_PREFIX="orders-flow:bench:$run_id"
export PAYMENT_LATENCY_MS="$latency"
export API_TOKENS=bench-token
export PORT="${PORT:-5190}"
if [[ "$db" == postgres ]]; then
  # TCP by default, as production connects (the database on another host).
  # --pg-socket uses the local Unix socket instead, to report the two side by
  # side. sqlx 0.9.0 did not set TCP_NODELAY and halved the pipeline over TCP;
  # 0.9.1 does again, and tests/models/postgres_tcp.rs keeps it that way.
  socket_dir=/var/run/postgresql
  if $pg_socket; then
    [[ -S "$socket_dir/.s.PGSQL.5432" ]] || { echo "--pg-socket: no PostgreSQL socket in $socket_dir" >&2; exit 2; }
    pg_base="postgres://postgres@%2Fvar%2Frun%2Fpostgresql"
    db_label=postgres-socket
  else
    db_label=postgres-tcp
    pg_base="${BENCH_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432}"
  fi
  dbname="orders_flow_bench"
  psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" >/dev/null
  export DATABASE_URL="$pg_base/$dbname"
  export DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-24}"
else
  export DATABASE_URL="sqlite://$work/bench.sqlite?mode=rwc"
  db_label=sqlite
fi

# shellcheck source=scripts/lib/redis_prefix.sh
source scripts/lib/redis_prefix.sh
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${checks:-}" == pass ]] && ! $keep; then
    forget_redis_prefix "$REDIS_PREFIX"
    rm -rf "$work"
  else
    echo "kept for inspection: logs in $work, Redis keys under $REDIS_PREFIX"
  fi
}
trap cleanup EXIT

csv="$work/orders.csv"
echo "==> generating $orders orders"
"$bin" task orders_generate "file=$csv" "orders=$orders" seed=1 >/dev/null
"$bin" db migrate >"$work/migrate.log" 2>&1 || { echo "migrating the benchmark database failed:"; cat "$work/migrate.log"; exit 1; }

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# PostgreSQL's CPU: every live server process, plus what the postmaster has
# collected from backends that already exited (cutime/cstime), in seconds.
pg_cpu() {
  local ticks; ticks=$(getconf CLK_TCK)
  # (A process may exit between the glob and the read: cat then fails, which
  # must not end the run.)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } \
    | awk -v t="$ticks" '$2 == "(postgres)" {s += $14 + $15 + $16 + $17} END {printf "%.1f", s / t}'
}
redis_cpu() { redis-cli info cpu | awk -F: '/used_cpu_(sys|user):/ {s+=$2} END {printf "%.1f", s}'; }
pg0=$(pg_cpu); redis0=$(redis_cpu)

echo "==> starting the web server and $workers worker process(es)"
"$bin" start --no-banner >"$work/web.log" 2>&1 & pids+=($!)
for _ in $(seq 1 "$workers"); do
  "$bin" start --worker --no-banner >>"$work/workers.log" 2>&1 & pids+=($!)
done
for _ in $(seq 1 100); do curl -fs "http://localhost:$PORT/_health" >/dev/null && break; sleep 0.1; done

echo "==> importing"
start=$(date +%s.%N)
/usr/bin/time -v "$bin" task orders_import "file=$csv" wait=false >"$work/import.out" 2>"$work/import.time"
import_done=$(date +%s.%N)
cat "$work/import.out"
rows=$(awk '/rows read/ {print $3; exit}' "$work/import.out")
import_rss=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$work/import.time")

run_on=()
# shellcheck source=scripts/lib/settle.sh
source scripts/lib/settle.sh
wait_until_settled
end=$(date +%s.%N)
elapsed=$(echo "$end - $start" | bc)

echo "==> checks"
checks=pass
$stalled && checks=fail
# Every check is one task (src/tasks/orders_check.rs): orders terminal, one
# notification each, stock conserved, KPIs equal to the database, no dead job,
# the import done with every order; it also reports the orders' latency.
# The summary's first line, `import N (FORMAT format, FILE): STATE`, names it
# whether the task waited or not.
import_id=$(sed -nE 's#^import ([0-9]+) \(.*#\1#p' "$work/import.out" | head -n 1)
"$bin" task orders_check "import=${import_id:-0}" format=env >"$work/check.env" 2>"$work/check.err" || checks=fail
cat "$work/check.err"
total=0; p50=0; p99=0; first_paid_at_ms=""
while IFS='=' read -r key value; do
  case "$key" in
    orders) total=$value ;;
    p50_ms) p50=$value ;;
    p99_ms) p99=$value ;;
    first_paid_at_ms) first_paid_at_ms=$value ;;
  esac
done <"$work/check.env"
if [[ -n "$first_paid_at_ms" ]]; then
  first_paid=$(echo "scale=2; $first_paid_at_ms / 1000 - $start" | bc)
else
  first_paid="-"
fi

rss=""
for pid in "${pids[@]}"; do rss+="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)kB "; done
ours=0; for pid in "${pids[@]}"; do ours=$((ours + $(cpu_of "$pid"))); done
ticks=$(getconf CLK_TCK)
ours_s=$(echo "scale=1; $ours / $ticks" | bc)
pg_s=$(echo "$(pg_cpu) - $pg0" | bc)
redis_s=$(echo "$(redis_cpu) - $redis0" | bc)
redis_mem=$(redis-cli info memory | awk -F: '/used_memory_human/ {print $2}' | tr -d '\r')
import_s=$(echo "$import_done - $start" | bc)
tail_s=$(echo "$end - $import_done" | bc)
# Failed attempts are retried with backoff and can stretch the end of a run; the
# logs are deleted when the run passes, so count them here.
failed_attempts=$(grep -c "job attempt failed" "$work/workers.log" 2>/dev/null || true)
rate=$(echo "scale=0; $total / $elapsed" | bc)
import_rate=$(echo "scale=0; ${rows:-0} / $import_s" | bc)

cat <<REPORT

orders-flow benchmark ($db_label, $workers worker process(es), payment latency ${latency} ms, $(nproc) cores)
  orders                 $total ($rows CSV rows)
  end to end             ${elapsed}s → $rate orders/s
  import (task)          ${import_s}s → $import_rate rows/s, peak RSS ${import_rss} kB
  after the import       ${tail_s}s until every order, notification and KPI event was done
  failed job attempts    ${failed_attempts:-0} (retried; the workers log says why)
  first paid order       ${first_paid}s after the import started
  order latency          p50 ${p50} ms, p99 ${p99} ms (written by the import → terminal)
  peak RSS               web + workers: $rss
  CPU seconds            ours ${ours_s}, PostgreSQL ${pg_s}, Redis ${redis_s}
  Redis memory after     $redis_mem
  checks                 $checks
REPORT

mkdir -p "$(dirname "$results")"
[[ -f "$results" ]] || echo "when,db,workers,latency_ms,orders,seconds,orders_per_s,import_rows_per_s,import_rss_kb,first_paid_s,p50_ms,p99_ms,cpu_ours_s,cpu_pg_s,cpu_redis_s,redis_mem,checks" >"$results"
echo "$(date -u +%FT%TZ),$db_label,$workers,$latency,$total,$elapsed,$rate,$import_rate,$import_rss,$first_paid,$p50,$p99,$ours_s,$pg_s,$redis_s,$redis_mem,$checks" >>"$results"
if $check && [[ "$checks" != pass ]]; then exit 1; fi
