#!/usr/bin/env bash
# Builds every testbed binary from its Go module (through the Go module proxy) into a
# cache outside the repository, keyed by version, so only the first run is slow.
#
#   testbed/build.sh            build what is missing, print the bin directories
#   TESTBED_CACHE=/path ...     cache location (default ~/.cache/mlplatform/testbed)
#
# Every tool is built inside a small wrapper module that requires the tool's module at
# its pinned version. `go install module/cmd@version` cannot be used: it asks the proxy
# for the module's version list (to report deprecations), and the proxy reachable here
# answers that request with 403 Forbidden.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${TESTBED_CACHE:-$HOME/.cache/mlplatform/testbed}
mkdir -p "$cache"
log() { printf '[testbed build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# One build per cache at a time: a second one (a test session that starts while a build
# runs in another shell) waits for the first, then finds what it built, instead of both
# writing the same source trees.
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
  log "another testbed/build.sh is building into $cache; waiting for it to finish"
  flock 9
fi
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0
ldflags_strip="-s -w"

# A component directory is complete only when its marker exists, so an interrupted
# build is redone instead of leaving half a set of binaries.
built() { [ -f "$1/.complete" ]; }

module_file() {  # module version field: a field of `go mod download -json`
  go mod download -json "$1@$2" | python3 -c "import json,sys; print(json.load(sys.stdin)['$3'])"
}

# wrapper_module DIR MODULE VERSION: a go.mod that requires MODULE at VERSION with the
# same language version, so the build list is exactly the one upstream releases with.
wrapper_module() {
  local dir=$1 module=$2 version=$3 modfile
  modfile=$(module_file "$module" "$version" GoMod)
  mkdir -p "$dir/src"
  {
    echo "module mlplatform.local/testbed/$(basename "$dir")"
    echo
    awk '$1 == "go" { print "go " $2; exit }' "$modfile"
    echo
    echo "require $module $version"
  } >"$dir/src/go.mod"
}

# build_wrapped DIRNAME MODULE VERSION LDFLAGS CMD...: build each CMD package of MODULE
# at VERSION into $cache/DIRNAME/bin/<basename of CMD>.
build_wrapped() {
  local name=$1 module=$2 version=$3 ldflags=$4; shift 4
  local dir="$cache/$name"
  if built "$dir"; then log "$name: cached"; return; fi
  mkdir -p "$dir/bin"
  wrapper_module "$dir" "$module" "$version"
  local i=0 n=$#
  for cmd in "$@"; do
    i=$((i + 1))
    # CMD "." is a module whose main package is its root (JobSet): the binary takes the
    # module's last path element as its name.
    local pkg="$module/$cmd" out
    out=$(basename "$cmd")
    if [ "$cmd" = . ]; then pkg=$module; out=$(basename "$module"); fi
    log "$name: building $cmd ($i/$n)"
    (cd "$dir/src" && go build -mod=mod -ldflags "$ldflags_strip $ldflags" \
      -o "$dir/bin/$out" "$pkg")
  done
  touch "$dir/.complete"
}

build_kubernetes() {
  # k8s.io/kubernetes maps its staging modules to ./staging with v0.0.0 requires, so its
  # wrapper also replaces each of them with its published version.
  local dir="$cache/kubernetes-$KUBERNETES_VERSION"
  if built "$dir"; then log "kubernetes $KUBERNETES_VERSION: cached"; return; fi
  mkdir -p "$dir/bin" "$dir/src"
  local modfile
  modfile=$(module_file k8s.io/kubernetes "$KUBERNETES_VERSION" GoMod)
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

build_mpi_operator() {
  # mpi-operator serves its health check on a hard-coded :8080 (a package variable in
  # cmd/mpi-operator/app), so two instances on one host collide. The build adds one file
  # to that package which takes the port from MPI_OPERATOR_HEALTH_PORT. The go command
  # refuses overlays of files in the module cache, so the module is copied into this
  # cache directory (never into the repository) and the wrapper module replaces it with
  # the copy; no upstream file is changed. "-healthport" in the directory name keeps a
  # plain build of the same version from being mistaken for this one.
  local name="mpi-operator-$MPI_OPERATOR_VERSION-healthport"
  local dir="$cache/$name" module=github.com/kubeflow/mpi-operator
  if built "$dir"; then log "$name: cached"; return; fi
  rm -rf "$dir/src"
  mkdir -p "$dir/bin"
  wrapper_module "$dir" "$module" "$MPI_OPERATOR_VERSION"
  cp -r "$(module_file "$module" "$MPI_OPERATOR_VERSION" Dir)" "$dir/src/mpi-operator"
  chmod -R u+w "$dir/src/mpi-operator"
  cat >"$dir/src/mpi-operator/cmd/mpi-operator/app/zz_testbed_health_port.go" <<'GO'
package app

import (
	"os"
	"strconv"
)

func init() {
	if p, err := strconv.Atoi(os.Getenv("MPI_OPERATOR_HEALTH_PORT")); err == nil && p > 0 {
		healthCheckPort = p
	}
}
GO
  echo "replace $module => ./mpi-operator" >>"$dir/src/go.mod"
  log "$name: building cmd/mpi-operator (1/1)"
  (cd "$dir/src" && go build -mod=mod -ldflags "$ldflags_strip" \
    -o "$dir/bin/mpi-operator" "$module/cmd/mpi-operator")
  touch "$dir/.complete"
}

start=$(date +%s)
build_kubernetes
build_wrapped "karmada-$KARMADA_VERSION" github.com/karmada-io/karmada "$KARMADA_VERSION" \
  "-X github.com/karmada-io/karmada/pkg/version.gitVersion=$KARMADA_VERSION" \
  cmd/aggregated-apiserver cmd/controller-manager cmd/scheduler cmd/webhook
build_wrapped "training-operator-$TRAINING_OPERATOR_VERSION" github.com/kubeflow/training-operator \
  "$TRAINING_OPERATOR_VERSION" "" \
  cmd/training-operator.v1
build_mpi_operator
build_wrapped "kwok-$KWOK_VERSION" sigs.k8s.io/kwok "$KWOK_VERSION" "" cmd/kwok
# Trainer v2 and JobSet (the v2 training backend): CRDs and runtimes are read from the
# same pinned module versions in the Go module cache.
build_wrapped "jobset-$JOBSET_VERSION" sigs.k8s.io/jobset "$JOBSET_VERSION" "" .
build_wrapped "trainer-$TRAINER_VERSION" github.com/kubeflow/trainer/v2 "$TRAINER_VERSION" "" \
  cmd/trainer-controller-manager
log "all binaries ready in $(( $(date +%s) - start ))s under $cache"
