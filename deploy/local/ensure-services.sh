#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting them when
# they are installed but down, and installing them from Debian's packages when missing (root).
# Also installs nginx (not started: the gateway test runs its own) for tests/test_gateway_nginx.py,
# and Debian's chromium and npm for the browser tests of the pages (tests/web/).
set -euo pipefail

say() { echo "[services] $*"; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $*"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    say "please install: $*"; exit 1
  fi
}

if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  say "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  pg_up || { say "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
fi

if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
  redis_up || { say "Redis does not answer on 127.0.0.1:6379"; exit 1; }
fi
say "PostgreSQL and Redis answer"

# nginx: only the binary is needed. Keep Debian's package from starting a system nginx on
# port 80 while it installs (policy-rc.d, as in container images), removed afterwards.
nginx_bin() { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }
if ! nginx_bin; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      added_policy=1
    fi
    apt_install nginx-light || apt_install nginx || true
    if [ -n "$added_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  fi
  nginx_bin && say "nginx installed" || say "nginx is not installed: the gateway test will skip"
fi

# wrk: the compiled HTTP client `make bench` (bench/cpu.py) loads the plain reads with, so
# that the client is not what limits them. Only the benchmark needs it.
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt_install wrk || true
fi

# The browser tests of the pages drive Debian's chromium (Playwright's own browser download
# cannot reach its server here); npm installs axe-core (web/package-lock.json). Without a
# browser those tests fail with the reason: they never skip.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install chromium || true
  fi
  command -v chromium >/dev/null && say "chromium installed" || say "chromium is not installed: the page tests will fail"
fi
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install npm || true
  fi
  command -v npm >/dev/null || { say "npm is not installed (Debian: apt-get install npm)"; exit 1; }
fi
