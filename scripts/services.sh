#!/usr/bin/env bash
# Makes sure Redis (and, with --postgres, PostgreSQL) answer on 127.0.0.1,
# installing them from Debian/Ubuntu packages and starting them when they don't.
# With --browser, also installs headless Chromium and chromedriver (the console's
# browser tests); with --promtool, Prometheus's `promtool` (the test suite checks
# `/metrics` with it).
# Safe to run again and again: services already running are left alone.
set -euo pipefail

want_postgres=false
want_browser=false
want_promtool=false
for arg in "$@"; do
  case "$arg" in
    --postgres) want_postgres=true ;;
    --browser) want_browser=true ;;
    --promtool) want_promtool=true ;;
    *) printf '[services] unknown option %s\n' "$arg" >&2; exit 2 ;;
  esac
done

log() { printf '[services] %s\n' "$*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

apt_updated=false
apt_install() {
  if ! $apt_updated; then
    as_root apt-get update -qq
    apt_updated=true
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done
  log "nothing answers on port $1"; return 1
}

ensure_redis() {
  if port_open 6379; then return; fi
  if ! command -v redis-server >/dev/null; then
    log "installing redis-server"
    apt_install redis-server
    # Where systemd runs, the package has started its own server already.
    if port_open 6379; then return; fi
  fi
  log "starting redis-server on 127.0.0.1:6379 (no persistence: a dev/test instance)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --logfile /tmp/orders-flow-redis.log
  wait_for_port 6379
}

start_postgres() {
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || as_root pg_ctlcluster "$version" main start
  wait_for_port 5432
}

ensure_postgres() {
  if ! port_open 5432; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      log "installing postgresql"
      apt_install postgresql
    fi
    # Where systemd runs, the package has started its cluster already.
    if ! port_open 5432; then start_postgres; fi
  fi
  # The tests log in as postgres/postgres over TCP: give the role that password
  # (ignored where the server trusts local connections).
  if command -v psql >/dev/null && ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    log "setting a password for the postgres role"
    # From /: psql warns when the postgres user cannot enter the current directory.
    (cd / && as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null)
  fi
}

# cargo fetches crates over HTTPS and needs the CA bundle, which a minimal
# Debian root (debootstrap) lacks: seen there as a TLS error in `cargo fetch`.
ensure_ca_certificates() {
  [[ -e /etc/ssl/certs/ca-certificates.crt ]] && return
  log "installing ca-certificates (cargo's HTTPS needs them)"
  apt_install ca-certificates
}

# Debian's chromium and chromium-driver (Ubuntu ships them as snaps instead).
ensure_browser() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then return; fi
  log "installing chromium and chromium-driver (headless browser tests)"
  apt_install chromium chromium-driver
}

# The test suite checks `/metrics` with Prometheus's own linter.
ensure_promtool() {
  command -v promtool >/dev/null && return
  log "installing prometheus (for promtool)"
  apt_install --no-install-recommends prometheus
  # Where systemd runs, the package also starts and enables a Prometheus server
  # listening on every address (:9090); the tests want only its linter.
  if [[ -d /run/systemd/system ]]; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
}

ensure_ca_certificates
ensure_redis
if $want_postgres; then ensure_postgres; fi
if $want_browser; then ensure_browser; fi
if $want_promtool; then ensure_promtool; fi
