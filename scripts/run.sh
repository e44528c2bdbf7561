#!/usr/bin/env bash
# `make run`: the whole platform on one machine with embedded defaults.
#  - no DATABASE_URL  -> SQLite under var/
#  - no REDIS_URL     -> Celery's filesystem broker under var/
#  - no KARMADA_KUBECONFIG_PATH -> the local testbed (Karmada + two member clusters)
# Web (gunicorn), worker and beat run together; Ctrl-C stops them (the testbed keeps
# running for the next start; `make testbed-down` stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
say() { printf '\033[1m[mlplatform]\033[0m %s\n' "$*"; }

if [ -z "${KARMADA_KUBECONFIG_PATH:-}" ]; then
  say "KARMADA_KUBECONFIG_PATH is unset: starting the local testbed (the first run builds it; that takes a while)"
  $PY testbed/testbed.py up
  export KARMADA_KUBECONFIG_PATH="$PWD/.testbed/kubeconfig/karmada.yaml"
fi
say "database: ${DATABASE_URL:-SQLite under var/}; broker: ${REDIS_URL:-filesystem under var/}"
say "Karmada: $KARMADA_KUBECONFIG_PATH"

$PY manage.py migrate --noinput
login=$($PY manage.py ensure_admin)

pids=()
cleanup() {
  trap - INT TERM EXIT
  say "stopping web, worker and beat"
  kill "${pids[@]}" 2>/dev/null || true
  # A worker in the middle of a Karmada call gets a few seconds to finish it, not forever.
  for _ in $(seq 1 20); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    sleep 0.5
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

.venv/bin/celery -A mlplatform worker --beat --loglevel=INFO --concurrency=2 \
  --schedule="var/celerybeat-schedule" &
pids+=($!)
.venv/bin/gunicorn mlplatform.wsgi:application --bind "$HOST:$PORT" --workers 2 --threads 4 \
  --access-logfile - &
pids+=($!)

for _ in $(seq 1 60); do
  curl -fsS "http://$HOST:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.5
done
say "ready: http://$HOST:$PORT/   ($login)"
say "API: http://$HOST:$PORT/api/v1/jobs   docs: http://$HOST:$PORT/api/docs   admin: http://$HOST:$PORT/admin/"
wait -n "${pids[@]}"
