#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test
# against SQLite and against PostgreSQL (real Redis for both).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh --postgres --browser --promtool

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
PG_URL="${TEST_POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/orders_flow_test}"

# The suite needs one process per test, as cargo-nextest runs it. Under plain
# `cargo test` every test shares one process: the import tests that measure a
# child's peak memory then measure that big process too (the kernel counts the
# spawning process's memory in the child's peak), and on a fresh Debian 12 a
# browser test and a Redis-healing test failed as well. So it is installed.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "[test] installing cargo-nextest (cargo install cargo-nextest --locked; a few minutes, once)"
  cargo install cargo-nextest --locked --quiet
fi
run_tests() { cargo nextest run --no-fail-fast "$@"; }

echo "[test] cargo fmt --check"
cargo fmt --all -- --check
echo "[test] cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

echo "[test] tests on SQLite"
run_tests
echo "[test] tests on PostgreSQL"
DATABASE_URL="$PG_URL" run_tests

# The end-to-end benchmark, small, so it cannot rot: it asserts that nothing was
# lost (every order terminal, notifications written, KPIs equal to the database,
# stock conserved), not a speed. The debug build is already there from the tests.
echo "[test] benchmark smoke run on SQLite and PostgreSQL (2,000 orders each)"
bash scripts/bench.sh --orders 2000 --db sqlite --debug --check --results target/bench-smoke.csv
bash scripts/bench.sh --orders 2000 --db postgres --debug --check --results target/bench-smoke.csv

# The cluster script at a small size (network namespaces need root): five
# hosts, 1 ms RTT, a worker host cut off and frozen mid-run, then a Redis
# failover (primary killed, replica promoted behind its address); checks on, no
# speed bar.
if [[ $(id -u) -eq 0 ]]; then
  echo "[test] cluster smoke run (20,000 orders, a worker host lost mid-run)"
  bash scripts/cluster.sh --orders 20000 --lose worker --lose-after 3 --debug --check --results target/cluster-smoke.csv
  echo "[test] cluster smoke run (5,000 orders, the Redis primary lost and its replica promoted mid-run)"
  bash scripts/cluster.sh --orders 5000 --redis-replica --lose redis-primary --lose-after 2 --debug --check --results target/cluster-smoke.csv
else
  echo "[test] cluster smoke run skipped: network namespaces need root (sudo bash scripts/cluster.sh --debug --check)"
fi
