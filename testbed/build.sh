#!/usr/bin/env bash
# Builds every testbed binary from its Go module (through the Go module proxy) into a
# cache outside the repository, keyed by version, so only the first run is slow.
#
#   testbed/build.sh            build what is missing, print the bin directories
#   TESTBED_CACHE=/path ...     cache location (default ~/.cache/mlplatform/testbed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${TESTBED_CACHE:-$HOME/.cache/mlplatform/testbed}
mkdir -p "$cache"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0
ldflags_strip="-s -w"

log() { printf '[testbed build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# done_marker DIR: a component directory is complete only when its marker exists, so an
# interrupted build is redone instead of leaving half a set of binaries.
built() { [ -f "$1/.complete" ]; }

build_go_install() {  # name version module cmd...
  local name=$1 version=$2 module=$3; shift 3
  local dir="$cache/$name-$version"
  if built "$dir"; then log "$name $version: cached"; return; fi
  mkdir -p "$dir/bin"
  local i=0 n=$#
  for cmd in "$@"; do
    i=$((i + 1))
    log "$name $version: building $cmd ($i/$n)"
    GOBIN="$dir/bin" go install -ldflags "$ldflags_strip" "$module/$cmd@$version"
  done
  touch "$dir/.complete"
}

build_kubernetes() {
  # k8s.io/kubernetes maps its staging modules to ./staging with v0.0.0 requires, so it
  # cannot be installed directly: a wrapper module replaces each with its published version.
  local dir="$cache/kubernetes-$KUBERNETES_VERSION"
  if built "$dir"; then log "kubernetes $KUBERNETES_VERSION: cached"; return; fi
  mkdir -p "$dir/bin" "$dir/src"
  local modfile
  modfile=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module mlplatform.local/testbed/kubernetes"
    echo
    grep -E '^go [0-9]' "$modfile"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$modfile" |
      awk -v v="$KUBERNETES_STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/src/go.mod"
  local ldflags="$ldflags_strip -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION#v1.}"
  ldflags=${ldflags%.*}
  local i=0
  # etcd's server module is a dependency of k8s.io/kubernetes, so the same wrapper builds
  # it (its own go.mod has replace lines that forbid a plain `go install`).
  for pkg in k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler go.etcd.io/etcd/server/v3; do
    i=$((i + 1))
    local out
    out=$(basename "$pkg"); [ "$out" = v3 ] && out=etcd
    log "kubernetes $KUBERNETES_VERSION: building $out ($i/4)"
    (cd "$dir/src" && go build -mod=mod -ldflags "$ldflags" -o "$dir/bin/$out" "$pkg")
  done
  touch "$dir/.complete"
}

start=$(date +%s)
build_kubernetes
build_go_install karmada "$KARMADA_VERSION" github.com/karmada-io/karmada \
  cmd/aggregated-apiserver cmd/controller-manager cmd/scheduler cmd/webhook
build_go_install training-operator "$TRAINING_OPERATOR_VERSION" github.com/kubeflow/training-operator \
  cmd/training-operator.v1
build_go_install mpi-operator "$MPI_OPERATOR_VERSION" github.com/kubeflow/mpi-operator cmd/mpi-operator
build_go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok cmd/kwok
log "all binaries ready in $(( $(date +%s) - start ))s under $cache"
