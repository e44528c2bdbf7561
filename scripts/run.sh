#!/usr/bin/env bash
# `make run`: the whole platform on one machine (mlplatform/launcher.py says what it starts).
#  - no DATABASE_URL  -> an embedded PostgreSQL, data under var/postgres (kept across runs)
#  - no REDIS_URL     -> an embedded Redis, empty at every start
#  - no KARMADA_KUBECONFIG_PATH -> the local testbed (Karmada + two member clusters)
# Web (gunicorn), worker and beat run as separate processes; Ctrl-C stops them and the
# embedded servers (the testbed keeps running for the next start; `make testbed-down`).
set -euo pipefail
cd "$(dirname "$0")/.."
# exec: signals sent to this script reach the launcher itself.
exec .venv/bin/python -m mlplatform.launcher "$@"
