#!/usr/bin/env bash
# A steady stream instead of a backlog: a file of STREAM_RATE orders arrives
# every second for STREAM_SECS seconds (each imported by its own
# `orders_import` run, as a shop's drop folder would be), on PostgreSQL over
# TCP with STREAM_WORKERS worker processes. It reports the orders' latency
# (written by the import → paid or failed: p50 and p99), whether the stream
# was kept up (the last order's latency, files that started late), and Redis
# memory and the worker processes' RSS sampled every 10 s, which must stay
# flat. Every check of the benchmark runs at the end.
#
#   bash scripts/bench.sh --mode stream
#   STREAM_RATE=5500 STREAM_SECS=300 BENCH_BIN=/tmp/rel/orders-flow-cli bash scripts/bench.sh --mode stream
#
# STREAM_FEED=files (the default) is that drop folder; STREAM_FEED=paced is
# one file of STREAM_RATE × STREAM_SECS orders imported by one run paced at
# the rate (`orders_import … rate=N`): no process start per second, so it
# reaches rates the drop folder cannot (80 % of a host's maximum).
#
#   STREAM_FEED=paced STREAM_RATE=13400 STREAM_SECS=300 bash scripts/bench.sh --mode stream
#
# STREAM_RATE (default 2000) orders a second; STREAM_SECS (default 60);
# STREAM_WORKERS (default 2); BENCH_BIN as in bench.sh, else a release build;
# STREAM_RESULTS (default bench/stream-results.csv) gets one CSV row a run;
# STREAM_KEEP=1 keeps the logs, samples and Redis keys of a run that passed.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${STREAM_RATE:-2000}"
secs="${STREAM_SECS:-60}"
workers="${STREAM_WORKERS:-2}"
results="${STREAM_RESULTS:-bench/stream-results.csv}"
stall_secs="${BENCH_STALL_SECS:-120}"
for value in "$rate" "$secs" "$workers" "$stall_secs"; do
  [[ "$value" =~ ^[0-9]+$ && "$value" -gt 0 ]] \
    || { echo "STREAM_RATE, STREAM_SECS, STREAM_WORKERS and BENCH_STALL_SECS take whole numbers above 0" >&2; exit 2; }
done
(( rate <= 100000 && secs <= 3600 && workers <= 16 )) \
  || { echo "at most STREAM_RATE=100000, STREAM_SECS=3600, STREAM_WORKERS=16" >&2; exit 2; }
feed="${STREAM_FEED:-files}"
[[ "$feed" == files || "$feed" == paced ]] \
  || { echo "STREAM_FEED is files (one file a second, the default) or paced (one file, one paced import)" >&2; exit 2; }
# The paced feed's one file holds every order of the run.
[[ "$feed" == files ]] || (( rate * secs <= 20000000 )) \
  || { echo "STREAM_FEED=paced writes one file of STREAM_RATE × STREAM_SECS orders: at most 20,000,000" >&2; exit 2; }

bash scripts/services.sh --postgres
if [[ -n "${BENCH_BIN:-}" ]]; then
  [[ -x "$BENCH_BIN" ]] || { echo "BENCH_BIN=$BENCH_BIN is not an executable" >&2; exit 2; }
  bin=$BENCH_BIN
else
  echo "==> release build"
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$PWD/target}/release/orders-flow-cli
fi

run_id="$(date +%Y%m%d-%H%M%S)-$$"
work=$(mktemp -d /tmp/orders-flow-stream.XXXXXX)
export LOCO_ENV=development LOG_LEVEL=warn API_TOKENS=bench-token
export REDIS_PREFIX="orders-flow:stream:$run_id"
export PORT="${PORT:-5191}"
pg_base="${BENCH_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432}"
dbname=orders_flow_stream
psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" >/dev/null
export DATABASE_URL="$pg_base/$dbname"
export DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-24}"

# shellcheck source=scripts/lib/redis_prefix.sh
source scripts/lib/redis_prefix.sh
pids=()
checks=fail
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "$checks" == pass && -z "${STREAM_KEEP:-}" ]]; then
    forget_redis_prefix "$REDIS_PREFIX"
    rm -rf "$work"
  else
    echo "kept for inspection: logs in $work, Redis keys under $REDIS_PREFIX"
  fi
}
trap cleanup EXIT

# Every second's file beforehand, so that writing them is not in the run. The
# seed is in every order id: one seed a file keeps ids unique.
if [[ "$feed" == files ]]; then
  echo "==> generating $secs files of $rate orders"
  for s in $(seq 1 "$secs"); do
    "$bin" task orders_generate "file=$work/in-$s.csv" "orders=$rate" "seed=$((1000 + s))" >/dev/null
  done
else
  echo "==> generating one file of $((rate * secs)) orders"
  "$bin" task orders_generate "file=$work/in.csv" "orders=$((rate * secs))" seed=1001 >/dev/null
fi
"$bin" db migrate >"$work/migrate.log" 2>&1 || { echo "migrating failed:"; cat "$work/migrate.log"; exit 1; }

echo "==> starting the web server and $workers worker process(es)"
"$bin" start --no-banner >"$work/web.log" 2>&1 & pids+=($!)
worker_pids=()
for _ in $(seq 1 "$workers"); do
  "$bin" start --worker --no-banner >>"$work/workers.log" 2>&1 & pids+=($!); worker_pids+=($!)
done
for _ in $(seq 1 100); do curl -fs "http://localhost:$PORT/_health" >/dev/null && break; sleep 0.1; done

redis_used() { redis-cli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
workers_rss() {
  local pid total=0 kb
  for pid in "${worker_pids[@]}"; do
    kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
cpu_ticks() {
  local pid total=0
  for pid in "${pids[@]}"; do
    total=$((total + $(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null | tr ' ' '+' | bc)))
  done
  echo "$total"
}

echo "==> streaming $rate orders/s for $secs s ($feed)"
echo "second,redis_used_bytes,workers_rss_kb" >"$work/samples.csv"
# Every 10th second: Redis memory and the workers' RSS.
sample() { if (( $1 % 10 == 0 )); then echo "$1,$(redis_used),$(workers_rss)" >>"$work/samples.csv"; fi; }
late=0
start=$(date +%s.%N)
imports=()
if [[ "$feed" == paced ]]; then
  # One import run, paced; sampled every 10 s while it runs.
  "$bin" task orders_import "file=$work/in.csv" "rate=$rate" wait=false >"$work/import-1.out" 2>&1 &
  imports+=($!)
  s=0
  while kill -0 "${imports[0]}" 2>/dev/null; do
    sleep 1
    s=$((s + 1))
    sample "$s"
  done
else
  # One file a second on the wall clock: a file whose second came while the
  # previous one was still starting is counted late, not skipped.
  for s in $(seq 1 "$secs"); do
    due=$(echo "$start + $s - 1" | bc)
    now=$(date +%s.%N)
    wait_s=$(echo "$due - $now" | bc)
    if [[ "$wait_s" == -* ]]; then
      (( $(echo "$wait_s < -0.2" | bc) )) && late=$((late + 1))
    else
      sleep "$wait_s"
    fi
    "$bin" task orders_import "file=$work/in-$s.csv" wait=false >"$work/import-$s.out" 2>&1 &
    imports+=($!)
    sample "$s"
  done
fi
failed_imports=0
for pid in "${imports[@]}"; do wait "$pid" || failed_imports=$((failed_imports + 1)); done
stream_end=$(date +%s.%N)

run_on=()
# shellcheck source=scripts/lib/settle.sh
source scripts/lib/settle.sh
wait_until_settled
end=$(date +%s.%N)

echo "==> checks"
checks=pass
$stalled && checks=fail
(( failed_imports == 0 )) || { echo "$failed_imports import run(s) failed (logs in $work)"; checks=fail; }
"$bin" task orders_check format=env >"$work/check.env" 2>"$work/check.err" || checks=fail
cat "$work/check.err"
not_done=$(psql "$DATABASE_URL" -Atqc "select count(*) from imports where state <> 'done'")
[[ "$not_done" == 0 ]] || { echo "$not_done import(s) not done"; checks=fail; }
total=$(sed -n 's/^orders=//p' "$work/check.env")
p50=$(sed -n 's/^p50_ms=//p' "$work/check.env")
p99=$(sed -n 's/^p99_ms=//p' "$work/check.env")
# The same latencies without the first 30 s: the run starts from empty tables,
# whose first growth (seq scans until the first ANALYZEs) a running shop is past.
steady=$(psql "$DATABASE_URL" -Atqc \
  "with t0 as (select min(created_at) t from orders)
   select round(percentile_cont(0.5) within group (order by ms)) || ',' || round(percentile_cont(0.99) within group (order by ms))
   from (select extract(epoch from finished_at - created_at) * 1000 ms from orders, t0
         where created_at >= t0.t + interval '30 seconds') l")
steady_p50=${steady%,*}; steady_p99=${steady#*,}
max_ms=$(psql "$DATABASE_URL" -Atqc \
  "select coalesce(round(max(extract(epoch from finished_at) - extract(epoch from created_at at time zone 'UTC')) * 1000), 0) from orders")
ours_s=$(echo "scale=1; $(cpu_ticks) / $(getconf CLK_TCK)" | bc)
stream_s=$(echo "$stream_end - $start" | bc)
drain_s=$(echo "$end - $stream_end" | bc)
first_redis=$(sed -n 2p "$work/samples.csv" | cut -d, -f2); last_redis=$(tail -n 1 "$work/samples.csv" | cut -d, -f2)
first_rss=$(sed -n 2p "$work/samples.csv" | cut -d, -f3); last_rss=$(tail -n 1 "$work/samples.csv" | cut -d, -f3)
max_redis=$(tail -n +2 "$work/samples.csv" | cut -d, -f2 | sort -n | tail -n 1)
max_rss=$(tail -n +2 "$work/samples.csv" | cut -d, -f3 | sort -n | tail -n 1)
mb() { echo "scale=1; ${1:-0} / 1048576" | bc; }
series() { tail -n +2 "$work/samples.csv" | cut -d, -f"$1" | awk -v d="$2" '{printf "%s%d", (NR > 1 ? " " : ""), $1 / d}'; }

if [[ "$feed" == files ]]; then
  offered_as="one file a second"
  feed_line="files started late     $late (more than 0.2 s after their second)"
else
  offered_as="one import paced at the rate"
  feed_line="kept pace              the import queued its last chunk ${stream_s}s in (of ${secs} s)"
fi
cat <<REPORT

orders-flow steady stream (postgres-tcp, $workers worker process(es), $(nproc) cores)
  offered                $rate orders/s for ${secs} s ($((rate * secs)) orders), $offered_as
  $feed_line
  orders                 ${total:-0}; the last file queued ${stream_s}s in, all done ${drain_s}s later
  order latency          p50 ${p50:-?} ms, p99 ${p99:-?} ms, max ${max_ms} ms (written by the import → paid/failed)
    from 30 s on         p50 ${steady_p50:-?} ms, p99 ${steady_p99:-?} ms (the orders written 30 s or more after the first)
  Redis used memory      first $(mb "$first_redis") MB, max $(mb "$max_redis") MB, last $(mb "$last_redis") MB (every 10 s)
    every 10 s (MB)      $(series 2 1048576)
  worker RSS (sum)       first ${first_rss:-?} kB, max ${max_rss:-?} kB, last ${last_rss:-?} kB
    every 10 s (MB)      $(series 3 1024)
  CPU seconds            web + workers $ours_s (the import runs not counted)
  checks                 $checks
REPORT
mkdir -p "$(dirname "$results")"
[[ -f "$results" ]] || echo "when,workers,rate,secs,orders,late_files,drain_s,p50_ms,p99_ms,max_ms,redis_first_b,redis_max_b,redis_last_b,rss_first_kb,rss_max_kb,rss_last_kb,checks,feed,steady_p50_ms,steady_p99_ms" >"$results"
echo "$(date -u +%FT%TZ),$workers,$rate,$secs,${total:-0},$late,$drain_s,${p50:-},${p99:-},$max_ms,${first_redis:-},${max_redis:-},${last_redis:-},${first_rss:-},${max_rss:-},${last_rss:-},$checks,$feed,${steady_p50:-},${steady_p99:-}" >>"$results"
[[ "$checks" == pass ]]
