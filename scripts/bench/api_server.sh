# Sourced by the API benchmarks (bench_metrics.sh, bench_refunds.sh): what both
# need before they start a production-mode web server under wrk.

if ! command -v wrk >/dev/null; then
  # A fresh machine has no wrk: install it as bench.sh installs bc and time.
  echo "==> installing wrk (Debian package)"
  as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null \
    || { echo "wrk is needed and could not be installed: apt-get install wrk" >&2; exit 1; }
fi
# Another server on the port would answer our pings and take the load instead.
if curl -s -o /dev/null "http://127.0.0.1:$PORT/_ping"; then
  echo "[bench] port $PORT is taken by another server: set PORT" >&2; exit 1
fi

# Production config with throwaway values for what it requires (it has no
# defaults for secrets and addresses); the caller sets DATABASE_URL and the rest.
export LOCO_ENV=production REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export HOST=http://localhost PORT BINDING=127.0.0.1
export MAILER_HOST=localhost MAILER_USER=bench MAILER_PASSWORD=bench NOTIFICATIONS_FROM="bench <bench@localhost>"
CONSOLE_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d " \n")"
export CONSOLE_SECRET_KEY
export LOG_LEVEL="${LOG_LEVEL:-info}"
