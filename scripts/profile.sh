#!/usr/bin/env bash
# Where the CPU of one benchmark run goes (issue 22): runs `scripts/bench.sh`
# against a private PostgreSQL cluster with pg_stat_statements loaded and a
# private Redis, under `perf record -a`, then writes what each program did per
# order: statements (calls, rows, WAL bytes), tables' inserts/updates (HOT or
# not), WAL records and bytes, Redis commands, and perf's split by program and
# by symbol.
#
#   sudo bash scripts/profile.sh BIN ORDERS OUTDIR
#   sudo bash scripts/profile.sh target/release/orders-flow-cli 200000 /tmp/profile
#
# Needs root (the cluster runs as the postgres user), perf (Debian `linux-perf`)
# and PostgreSQL's server binaries. The shared server on 5432 and Redis on 6379
# are not touched: the private ones listen on PROFILE_PG_PORT (5499) and
# PROFILE_REDIS_PORT (6390). perf samples every process on the machine: run it
# alone.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 3 ]] || { echo "usage: $0 BIN ORDERS OUTDIR" >&2; exit 2; }
bin=$(realpath "$1"); orders=$2; out=$3
[[ -x "$bin" ]] || { echo "$bin is not an executable" >&2; exit 2; }
[[ "$orders" =~ ^[0-9]+$ && "$orders" -gt 0 ]] || { echo "ORDERS takes a whole number above 0" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "run as root: the private PostgreSQL runs as the postgres user" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 2; }
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")
[[ -x "$pgbin/initdb" ]] || { echo "PostgreSQL's initdb not found under /usr/lib/postgresql" >&2; exit 2; }
port=${PROFILE_PG_PORT:-5499}; rport=${PROFILE_REDIS_PORT:-6390}
mkdir -p "$out"; out=$(realpath "$out")
pgdir=$(mktemp -d /tmp/orders-flow-profile-pg.XXXXXX)
cleanup() {
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
chown postgres "$pgdir"
(cd / && runuser -u postgres -- "$pgbin/initdb" -D "$pgdir" -A trust -U postgres >/dev/null)
cat >>"$pgdir/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgdir'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 200
CONF
(cd / && runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir" -l "$pgdir/log" -w start >/dev/null)
psql_p() { psql -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_p -d postgres -qc "create extension pg_stat_statements"
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --logfile "$out/redis.log"
for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

perf record -a -F 497 -o "$out/perf.data" -- env BENCH_BIN="$bin" \
  BENCH_POSTGRES_URL="postgres://postgres@127.0.0.1:$port" REDIS_URL="redis://127.0.0.1:$rport" \
  bash scripts/bench.sh --orders "$orders" --results "$out/results.csv" --check 2>&1 | tee "$out/bench.out"

psql_p -d postgres -Atc "select 'wal records ' || wal_records || ', full-page images ' || wal_fpi || ', bytes ' || wal_bytes from pg_stat_wal" >"$out/wal.txt"
psql_p -d postgres -c "select calls, round(total_exec_time) ms, rows, wal_bytes,
    round(wal_bytes::numeric / $orders) wal_b_per_order, round(calls::numeric / $orders, 3) calls_per_order,
    left(regexp_replace(query, '\s+', ' ', 'g'), 140) query
  from pg_stat_statements order by wal_bytes desc, total_exec_time desc limit 40" >"$out/statements.txt"
psql_p -d orders_flow_bench -c "select relname, n_tup_ins, n_tup_upd, n_tup_hot_upd,
    (select count(*) from pg_index i where i.indrelid = relid) indexes
  from pg_stat_user_tables order by n_tup_ins + n_tup_upd desc" >"$out/tables.txt"
redis-cli -p "$rport" info commandstats >"$out/redis-commands.txt"
redis-cli -p "$rport" info cpu >"$out/redis-cpu.txt"
report() { perf report -i "$out/perf.data" --no-children --stdio "$@" 2>/dev/null | grep '%' || true; }
report --sort comm | head -20 >"$out/by-program.txt"
report --comms tokio-rt-worker,orders-flow-cli --sort sym | head -80 >"$out/ours.txt"
report --comm postgres --sort sym | head -50 >"$out/postgres.txt"
report --comm redis-server --sort sym | head -30 >"$out/redis.txt"
echo "profile in $out: wal.txt statements.txt tables.txt redis-commands.txt by-program.txt ours.txt postgres.txt redis.txt"
