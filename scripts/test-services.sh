#!/usr/bin/env bash
# Installs (Debian packages, when missing) and starts the PostgreSQL and Redis servers the
# test suite uses (and installs Chromium for the browser tests), on loopback, idempotently. Used by .ci/run; handy on a dev machine too.
#
#   PGPORT (5432), REDIS_PORT (6379); role/database/password: mlplatform
#   TEST_ENGINES=embedded: Chromium only; `make test` then runs the suite on embedded
#   PostgreSQL and Redis from Python wheels (mlplatform/embedded.py) instead.
set -euo pipefail
PGPORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
log() { printf '[services] %s\n' "$*"; }

embedded=0
[ "${TEST_ENGINES:-}" = embedded ] && embedded=1
need=()
if [ "$embedded" = 0 ]; then
  command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi
# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$embedded" = 1 ]; then
  log "TEST_ENGINES=embedded: PostgreSQL and Redis come from Python wheels"
  exit 0
fi

# PostgreSQL: the Debian cluster, started if it is not running.
pgver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
if [ -z "$pgver" ]; then
  pgver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  pg_createcluster "$pgver" main --port "$PGPORT" >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$pgver" '$1==v && $2=="main" {print $4}' | grep -q online; then
  log "starting PostgreSQL $pgver"
  pg_ctlcluster "$pgver" main start
fi
for _ in $(seq 1 60); do
  su postgres -c "pg_isready -q -h 127.0.0.1 -p $PGPORT" && break
  sleep 0.5
done
su postgres -c "psql -q -p $PGPORT -tc \"SELECT 1 FROM pg_roles WHERE rolname='mlplatform'\"" | grep -q 1 ||
  su postgres -c "psql -q -p $PGPORT -c \"CREATE ROLE mlplatform LOGIN CREATEDB PASSWORD 'mlplatform'\""
su postgres -c "psql -q -p $PGPORT -tc \"SELECT 1 FROM pg_database WHERE datname='mlplatform'\"" | grep -q 1 ||
  su postgres -c "psql -q -p $PGPORT -c \"CREATE DATABASE mlplatform OWNER mlplatform\""
log "PostgreSQL ready: postgres://mlplatform:mlplatform@127.0.0.1:$PGPORT/mlplatform"

# Redis: our own daemonised instance on loopback (no systemd in CI containers).
if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "starting Redis on $REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no >/dev/null
  for _ in $(seq 1 40); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
log "Redis ready: redis://127.0.0.1:$REDIS_PORT/0"
