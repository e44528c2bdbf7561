#!/usr/bin/env bash
# Deploys mlplatform onto a Kubernetes cluster (the management cluster) and installs the
# platform's resource interpreters into Karmada. Running it again converges to the same
# state: secrets are kept, an unchanged release re-runs nothing.
#
#   KARMADA_KUBECONFIG=~/.kube/karmada.config k8s/deploy.sh   deploy, wait, print the URL
#   k8s/deploy.sh --dry-run            print every step and every object; contact nothing
#   k8s/deploy.sh --dry-run=server     send every object to the API servers as a dry run
#
# Settings, all from the environment (docs/operations.md explains each):
#   KARMADA_KUBECONFIG  required: kubeconfig of the Karmada API server (KARMADA_CONTEXT)
#   MGMT_KUBECONFIG     optional: kubeconfig the platform uses for the management cluster
#   KUBECONFIG          where to deploy, as for kubectl (KUBE_CONTEXT picks a context)
#   NAMESPACE           default ml-platform (or the namespace of OVERLAY)
#   OVERLAY             kustomization to deploy, default k8s/base
#   IMAGE               platform image; default mlplatform:<git commit> with the base
#   BUILD               auto (build IMAGE when a Docker engine answers) | always | never
#   PUSH                1: push IMAGE after building it
#   SERVICE_TYPE, NODE_PORT         web Service (base: NodePort 30180)
#   WEB_REPLICAS, WORKER_REPLICAS   (base: 2 and 1; beat is always exactly 1)
#   ALLOWED_HOSTS       default: localhost, the Service's names and the nodes' addresses
#   CSRF_TRUSTED_ORIGINS, JOB_MONITOR_INTERVAL   passed to the platform when set
#   PLAIN_HTTP          1: no TLS proxy in front; serve plain HTTP (no redirect, no HSTS,
#                       cookies not HTTPS-only). Default: HTTPS is expected (k8s/base)
#   POSTGRES_PASSWORD, SECRET_KEY   default: generated on first deploy, then kept
#   TIMEOUT             seconds to wait for each rollout, default 600
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
FIELD_MANAGER=mlplatform-deploy
MIN_KUBECTL_MINOR=27 # kustomize v5 (labels, replicas, merge generators)

log() { printf '[deploy] %s\n' "$*" >&2; }
warn() { printf '[deploy] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[deploy] ERROR: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

MODE=apply # apply | client | server
for arg in "$@"; do
  case $arg in
  --dry-run | --dry-run=client) MODE=client ;;
  --dry-run=server) MODE=server ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) die "unknown argument: $arg (see --help)" ;;
  esac
done

# --- tools and inputs ---------------------------------------------------------------------
command -v kubectl >/dev/null 2>&1 ||
  die "kubectl not found: install kubectl 1.$MIN_KUBECTL_MINOR or newer (https://kubernetes.io/docs/tasks/tools/)"
kubectl_minor=$(kubectl version --client -o yaml 2>/dev/null | sed -n 's/^ *minor: *"\{0,1\}\([0-9]*\).*/\1/p' | head -n 1)
if [ -n "$kubectl_minor" ] && [ "$kubectl_minor" -lt "$MIN_KUBECTL_MINOR" ]; then
  die "kubectl 1.$kubectl_minor is too old: 1.$MIN_KUBECTL_MINOR or newer is needed for its kustomize"
fi

[ -n "${KARMADA_KUBECONFIG:-}" ] ||
  die "KARMADA_KUBECONFIG is not set: point it at the kubeconfig of your Karmada API server"
[ -r "$KARMADA_KUBECONFIG" ] || die "KARMADA_KUBECONFIG=$KARMADA_KUBECONFIG cannot be read"
if [ -n "${MGMT_KUBECONFIG:-}" ] && [ ! -r "$MGMT_KUBECONFIG" ]; then
  die "MGMT_KUBECONFIG=$MGMT_KUBECONFIG cannot be read"
fi

BASE_DIR=$ROOT/k8s/base
OVERLAY=${OVERLAY:-$BASE_DIR}
[ -f "$OVERLAY/kustomization.yaml" ] || die "OVERLAY=$OVERLAY has no kustomization.yaml"
OVERLAY=$(cd "$OVERLAY" && pwd -P)
using_base=false
[ "$OVERLAY" = "$BASE_DIR" ] && using_base=true

# With the base, deploy.sh owns the image and the host names; with an overlay of your own
# it changes only what you set here, so the overlay stays the source of truth.
if [ -z "${IMAGE:-}" ] && $using_base; then
  IMAGE=mlplatform:$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo latest)
fi
BUILD=${BUILD:-auto}
case $BUILD in auto | always | never) ;; *) die "BUILD=$BUILD: use auto, always or never" ;; esac
TIMEOUT=${TIMEOUT:-600}
case $TIMEOUT in '' | *[!0-9]*) die "TIMEOUT=$TIMEOUT: seconds, as a whole number" ;; esac
if [ -n "${SERVICE_TYPE:-}" ]; then
  case $SERVICE_TYPE in NodePort | LoadBalancer | ClusterIP) ;;
  *) die "SERVICE_TYPE=$SERVICE_TYPE: use NodePort, LoadBalancer or ClusterIP" ;;
  esac
fi
for var in NODE_PORT WEB_REPLICAS WORKER_REPLICAS; do
  case ${!var:-0} in *[!0-9]*) die "$var=${!var}: a whole number" ;; esac
done

KC=(kubectl)
[ -n "${KUBE_CONTEXT:-}" ] && KC+=(--context "$KUBE_CONTEXT")
KK=(kubectl --kubeconfig "$KARMADA_KUBECONFIG")
[ -n "${KARMADA_CONTEXT:-}" ] && KK+=(--context "$KARMADA_CONTEXT")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplatform-deploy.XXXXXX")
chmod 700 "$WORK"
trap 'rm -rf "$WORK"' EXIT

# The namespace: NAMESPACE, else the one the overlay declares (read off its rendering).
if [ -z "${NAMESPACE:-}" ]; then
  NS=$(kubectl kustomize "$OVERLAY" | awk '
    /^---/ { ns = 0 } /^kind: Namespace$/ { ns = 1 }
    ns && /^  name: / { print $2; exit }')
  [ -n "$NS" ] || die "cannot tell the namespace from $OVERLAY: set NAMESPACE"
else
  NS=$NAMESPACE
fi
case $NS in *[!a-z0-9-]* | -* | *-) die "NAMESPACE=$NS is not a valid namespace name" ;; esac
KC+=(--namespace "$NS")

case $MODE in
client) log "dry run: nothing is contacted or changed; the objects follow on stdout" ;;
server) log "server-side dry run: the API servers check every object and keep none" ;;
esac
DRY=()
[ "$MODE" = server ] && DRY=(--dry-run=server)

# --- clusters reachable? ------------------------------------------------------------------
loopback_server() { # kubeconfig-args... -> prints the server if it is a loopback address
  local server
  server=$(kubectl "$@" config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>/dev/null || true)
  case $server in *//127.* | *//localhost* | *//\[::1\]*) printf '%s' "$server" ;; esac
}
if [ "$MODE" != client ]; then
  "${KC[@]}" get --raw /readyz >/dev/null 2>&1 || "${KC[@]}" version >/dev/null 2>&1 ||
    die "cannot reach the management cluster with kubectl${KUBE_CONTEXT:+ --context $KUBE_CONTEXT} (KUBECONFIG=${KUBECONFIG:-~/.kube/config})"
  clusters=$("${KK[@]}" get clusters.cluster.karmada.io -o name 2>&1) ||
    die "cannot reach Karmada with KARMADA_KUBECONFIG=$KARMADA_KUBECONFIG: $clusters"
  log "Karmada answers; member clusters: $(printf '%s\n' "$clusters" | sed 's|.*/||' | paste -sd' ' -)"
  [ -n "$clusters" ] || warn "Karmada has no member clusters yet: jobs will stay Pending"
fi
if [ "$MODE" = server ]; then
  [ -n "$("${KC[@]}" get namespace "$NS" --ignore-not-found -o name)" ] ||
    die "namespace $NS does not exist yet, so the API server cannot check objects inside it: create it (kubectl create namespace $NS) or deploy for real"
fi

server=$(loopback_server --kubeconfig "$KARMADA_KUBECONFIG" ${KARMADA_CONTEXT:+--context "$KARMADA_CONTEXT"})
[ -z "$server" ] || warn "the Karmada kubeconfig points at $server, which pods cannot reach: use an address of the Karmada API server that the cluster's pods can reach"

# --- image --------------------------------------------------------------------------------
if [ -n "${IMAGE:-}" ]; then
  engine=false
  if [ "$BUILD" != never ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=true
  fi
  if [ "$BUILD" = always ] && ! $engine; then
    die "BUILD=always but no Docker engine answers here"
  fi
  if $engine; then
    if [ "$MODE" = apply ]; then
      log "building $IMAGE"
      docker build --tag "$IMAGE" "$ROOT"
      if [ "${PUSH:-0}" = 1 ]; then
        log "pushing $IMAGE"
        docker push "$IMAGE"
      fi
    else
      log "would build $IMAGE from $ROOT$([ "${PUSH:-0}" != 1 ] || echo ' and push it')"
    fi
  else
    if [ "$BUILD" = never ]; then reason="BUILD=never"; else reason="no Docker engine answers here"; fi
    log "not building ($reason): the cluster must be able to pull $IMAGE"
  fi
fi

# --- Karmada: the platform's resource interpreters ---------------------------------------
karmada_files=()
for f in "$ROOT"/k8s/karmada/*.yaml; do [ -e "$f" ] && karmada_files+=("$f"); done
if [ ${#karmada_files[@]} -eq 0 ]; then
  warn "no k8s/karmada/*.yaml: XGBoostJob and JAXJob status will not aggregate on Karmada"
elif [ "$MODE" = client ]; then
  log "would apply to Karmada: ${karmada_files[*]#"$ROOT"/}"
else
  log "applying the resource interpreters to Karmada"
  karmada_args=()
  for f in "${karmada_files[@]}"; do karmada_args+=(-f "$f"); done
  "${KK[@]}" apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" \
    ${DRY[@]+"${DRY[@]}"} "${karmada_args[@]}" >&2
fi

# --- secrets ------------------------------------------------------------------------------
random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

urlencode() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
    [a-zA-Z0-9.~_-]) out+=$c ;;
    *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# existing_secret NAME KEY: the value stored in the cluster, empty when there is none. Any
# other failure stops the deploy: a fresh password would lock the platform out of its data.
existing_secret() {
  local value
  [ "$MODE" = client ] && return 0
  value=$("${KC[@]}" get secret "$1" --ignore-not-found -o "jsonpath={.data.$2}") ||
    die "cannot read secret $1 in $NS"
  [ -z "$value" ] || printf '%s' "$value" | base64 --decode
}

# secret_yaml NAME KEY=FILE...: a Secret manifest (values base64-encoded, never on a
# command line where ps would show them).
secret_yaml() {
  local name=$1 kv
  shift
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$NS"
  printf '  labels:\n    app.kubernetes.io/name: mlplatform\ntype: Opaque\ndata:\n'
  for kv in "$@"; do
    printf '  %s: %s\n' "${kv%%=*}" "$(base64 <"${kv#*=}" | tr -d '\n')"
  done
}

flat_kubeconfig() { # kubeconfig [context] -> self-contained kubeconfig (certs inlined)
  kubectl --kubeconfig "$1" ${2:+--context "$2"} config view --raw --flatten --minify
}

umask 077
mkdir -p "$WORK/overlay" "$WORK/secret"
S=$WORK/secret
if [ "$MODE" = client ]; then
  printf '<generated on first deploy, then kept>' >"$S/POSTGRES_PASSWORD"
  printf '<generated on first deploy, then kept>' >"$S/SECRET_KEY"
  printf 'postgres://mlplatform:<password>@postgres:5432/mlplatform' >"$S/DATABASE_URL"
  printf '<%s, flattened>' "$KARMADA_KUBECONFIG" >"$S/karmada.yaml"
  [ -z "${MGMT_KUBECONFIG:-}" ] || printf '<%s, flattened>' "$MGMT_KUBECONFIG" >"$S/mgmt.yaml"
else
  stored=$(existing_secret mlplatform-db POSTGRES_PASSWORD)
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    [ -z "$stored" ] || [ "$stored" = "$POSTGRES_PASSWORD" ] ||
      warn "POSTGRES_PASSWORD differs from the stored one; PostgreSQL keeps its old password until you change it there (docs/operations.md)"
    password=$POSTGRES_PASSWORD
  elif [ -n "$stored" ]; then
    password=$stored
  else
    password=$(random_hex 24)
    log "generated a database password (kept in secret mlplatform-db)"
  fi
  printf '%s' "$password" >"$S/POSTGRES_PASSWORD"
  printf 'postgres://mlplatform:%s@postgres:5432/mlplatform' "$(urlencode "$password")" >"$S/DATABASE_URL"
  key=${SECRET_KEY:-$(existing_secret mlplatform-django SECRET_KEY)}
  [ -n "$key" ] || key=$(random_hex 32)
  printf '%s' "$key" >"$S/SECRET_KEY"
  flat_kubeconfig "$KARMADA_KUBECONFIG" "${KARMADA_CONTEXT:-}" >"$S/karmada.yaml"
  if grep -q '^ *exec:' "$S/karmada.yaml"; then
    warn "the Karmada kubeconfig runs a credential plugin (exec), which the platform's image does not have: use a token or client certificate"
  fi
  if [ -n "${MGMT_KUBECONFIG:-}" ]; then
    flat_kubeconfig "$MGMT_KUBECONFIG" >"$S/mgmt.yaml"
  fi
fi
kubeconfig_items=("karmada.yaml=$S/karmada.yaml")
[ -z "${MGMT_KUBECONFIG:-}" ] || kubeconfig_items+=("mgmt.yaml=$S/mgmt.yaml")
{
  secret_yaml mlplatform-db "POSTGRES_PASSWORD=$S/POSTGRES_PASSWORD" "DATABASE_URL=$S/DATABASE_URL"
  secret_yaml mlplatform-django "SECRET_KEY=$S/SECRET_KEY"
  secret_yaml mlplatform-kubeconfig "${kubeconfig_items[@]}"
} >"$WORK/overlay/secrets.yaml"

sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi | cut -c1-"$1"; }
# Pods read secrets at start: a changed secret must restart them, so its digest goes into
# the pod templates.
secrets_digest=$(sha256 16 <"$WORK/overlay/secrets.yaml")

# --- the platform's configuration ---------------------------------------------------------
literals=()
if [ -n "${ALLOWED_HOSTS:-}" ]; then
  literals+=("ALLOWED_HOSTS=$ALLOWED_HOSTS")
elif $using_base; then
  hosts="localhost,127.0.0.1,mlplatform-web,mlplatform-web.$NS,mlplatform-web.$NS.svc,mlplatform-web.$NS.svc.cluster.local"
  if [ "$MODE" = client ]; then
    log "would add the nodes' addresses to ALLOWED_HOSTS"
  else
    # Reached through a NodePort, the Host header is a node's address.
    nodes=$("${KC[@]}" get nodes -o jsonpath='{range .items[*].status.addresses[*]}{.address}{","}{end}' 2>/dev/null) ||
      warn "cannot list nodes: ALLOWED_HOSTS holds only the Service's names; set ALLOWED_HOSTS"
    [ -z "${nodes:-}" ] || hosts="$hosts,${nodes%,}"
  fi
  literals+=("ALLOWED_HOSTS=$hosts")
fi
[ -z "${CSRF_TRUSTED_ORIGINS:-}" ] || literals+=("CSRF_TRUSTED_ORIGINS=$CSRF_TRUSTED_ORIGINS")
[ -z "${JOB_MONITOR_INTERVAL:-}" ] || literals+=("JOB_MONITOR_INTERVAL=$JOB_MONITOR_INTERVAL")
[ -z "${MGMT_KUBECONFIG:-}" ] || literals+=("MGMT_KUBECONFIG_PATH=/etc/mlplatform/kubeconfig/mgmt.yaml")
if [ "${PLAIN_HTTP:-0}" = 1 ]; then
  # For a trial without TLS: the base redirects plain HTTP to HTTPS and sends cookies only
  # over HTTPS, which would leave http://<node>:<port> unusable.
  warn "PLAIN_HTTP=1: the platform serves plain HTTP; put a TLS proxy in front for real use"
  literals+=("SECURE_SSL_REDIRECT=false" "SECURE_HSTS_SECONDS=0" "SESSION_COOKIE_SECURE=false" "CSRF_COOKIE_SECURE=false")
fi

# --- render: a kustomization over OVERLAY with this run's choices --------------------------
# kustomize refuses absolute paths to other kustomizations, so OVERLAY is reached relatively.
overlay_dir=$WORK/overlay
up=$(cd "$overlay_dir" && pwd -P | sed 's|[^/][^/]*|..|g; s|^/||')
overlay_rel=$up$OVERLAY

kustomization() { # job-name-suffix
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
  printf 'resources:\n  - %s\n  - secrets.yaml\n' "$overlay_rel"
  [ -z "${NAMESPACE:-}" ] || printf 'namespace: %s\n' "$NAMESPACE"
  if [ -n "${IMAGE:-}" ]; then
    local name=${IMAGE%@*} tag='' digest=''
    case $IMAGE in *@*) digest=${IMAGE#*@} ;; esac
    # A tag is after the last colon, unless that colon belongs to a registry port.
    case ${name##*/} in *:*) tag=${name##*:} name=${name%:*} ;; esac
    printf 'images:\n  - name: mlplatform\n    newName: %s\n' "$name"
    [ -z "$tag" ] || printf '    newTag: "%s"\n' "$tag"
    [ -z "$digest" ] || printf '    digest: %s\n' "$digest"
  fi
  if [ -n "${WEB_REPLICAS:-}${WORKER_REPLICAS:-}" ]; then
    printf 'replicas:\n'
    [ -z "${WEB_REPLICAS:-}" ] || printf '  - name: mlplatform-web\n    count: %s\n' "$WEB_REPLICAS"
    [ -z "${WORKER_REPLICAS:-}" ] || printf '  - name: mlplatform-worker\n    count: %s\n' "$WORKER_REPLICAS"
  fi
  if [ ${#literals[@]} -gt 0 ]; then
    printf 'configMapGenerator:\n  - name: mlplatform-config\n    behavior: merge\n    literals:\n'
    local l
    for l in "${literals[@]}"; do printf '      - "%s"\n' "${l//\"/\\\"}"; done
  fi
  printf 'patches:\n'
  printf '  - target: {kind: Deployment, labelSelector: app.kubernetes.io/name=mlplatform}\n'
  printf '    patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: any}\n'
  printf '      spec: {template: {metadata: {annotations: {mlplatform.io/secrets-digest: "%s"}}}}\n' "$secrets_digest"
  if [ -n "${SERVICE_TYPE:-}" ] || [ -n "${NODE_PORT:-}" ]; then
    printf '  - target: {kind: Service, name: mlplatform-web}\n    patch: |-\n'
    [ -z "${SERVICE_TYPE:-}" ] || printf '      - {op: replace, path: /spec/type, value: %s}\n' "$SERVICE_TYPE"
    if [ -n "${NODE_PORT:-}" ]; then
      printf '      - {op: replace, path: /spec/ports/0/nodePort, value: %s}\n' "$NODE_PORT"
    elif [ -n "${SERVICE_TYPE:-}" ] && [ "$SERVICE_TYPE" = ClusterIP ]; then
      printf '      - {op: remove, path: /spec/ports/0/nodePort}\n'
    fi
  fi
  if [ -n "$1" ]; then
    printf '  - target: {kind: Job, name: mlplatform-migrate}\n    patch: |-\n'
    printf '      - {op: replace, path: /metadata/name, value: mlplatform-migrate-%s}\n' "$1"
    printf '      - {op: add, path: /spec/ttlSecondsAfterFinished, value: 604800}\n'
  fi
}

# The migration Job is named after everything it would deploy: an unchanged release finds
# its Job already complete and runs nothing, a new one gets a new Job (a Job's pod template
# cannot be changed in place). Finished Jobs are collected after a week.
kustomization '' >"$overlay_dir/kustomization.yaml"
release=$(kubectl kustomize "$overlay_dir" | sha256 10) || die "kustomize failed on $OVERLAY"
MIGRATE_JOB=mlplatform-migrate-$release
kustomization "$release" >"$overlay_dir/kustomization.yaml"
kubectl kustomize "$overlay_dir" >"$WORK/manifests.yaml"

# --- apply --------------------------------------------------------------------------------
if [ "$MODE" = client ]; then
  log "would apply to namespace $NS of ${KUBE_CONTEXT:-the current context}:"
  awk '/^kind: /{kind=$2} /^  name: /{if (kind) print "[deploy]   " kind "/" $2; kind=""}' "$WORK/manifests.yaml" >&2
  log "would wait for postgres, redis, job/$MIGRATE_JOB, then mlplatform-web, -worker and -beat"
  log "would print the web UI's URL"
  cat "$WORK/manifests.yaml"
  for f in ${karmada_files[@]+"${karmada_files[@]}"}; do
    printf -- '---\n# Karmada control plane: %s\n' "${f#"$ROOT"/}"
    sed '/^---$/d' "$f"
  done
  exit 0
fi

job_conditions() { # name -> the job's true conditions, space-separated ("" if no job)
  "${KC[@]}" get job "$1" --ignore-not-found -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}'
}

# A failed migration of this very release is retried: delete it so it is created anew.
if [ "$MODE" = apply ]; then
  case " $(job_conditions "$MIGRATE_JOB")" in
  *" Failed "*)
    log "job/$MIGRATE_JOB failed before: running it again"
    "${KC[@]}" delete job "$MIGRATE_JOB" --wait=true >&2
    ;;
  esac
fi

log "applying $(grep -c '^kind: ' "$WORK/manifests.yaml") objects to namespace $NS"
"${KC[@]}" apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" \
  ${DRY[@]+"${DRY[@]}"} -f "$WORK/manifests.yaml" >&2

if [ "$MODE" = server ]; then
  log "server-side dry run passed: the API servers accept every object"
  exit 0
fi

# --- wait ---------------------------------------------------------------------------------
diagnose() {
  warn "$1"
  "${KC[@]}" get pods -o wide >&2 || true
  "${KC[@]}" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
  die "see docs/operations.md, Troubleshooting"
}

rollout() { # kind/name
  log "waiting for $1"
  "${KC[@]}" rollout status "$1" --timeout="${TIMEOUT}s" >&2 || diagnose "$1 did not become ready"
}

wait_job() { # name
  local deadline conditions
  deadline=$(($(date +%s) + TIMEOUT))
  log "waiting for the database migration (job/$1)"
  while :; do
    conditions=$(job_conditions "$1")
    case " $conditions" in
    *" Complete "*) return 0 ;;
    *" Failed "*)
      "${KC[@]}" logs "job/$1" --all-containers --tail=40 >&2 || true
      diagnose "the migration failed"
      ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || diagnose "the migration did not finish in ${TIMEOUT}s"
    sleep 2
  done
}

rollout statefulset/postgres
rollout deployment/redis
wait_job "$MIGRATE_JOB"
rollout deployment/mlplatform-web
rollout deployment/mlplatform-worker
rollout deployment/mlplatform-beat

# --- where it is --------------------------------------------------------------------------
svc_type=$("${KC[@]}" get service mlplatform-web -o jsonpath='{.spec.type}')
case $svc_type in
NodePort)
  port=$("${KC[@]}" get service mlplatform-web -o jsonpath='{.spec.ports[0].nodePort}')
  addr=$("${KC[@]}" get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="ExternalIP")].address}' 2>/dev/null || true)
  [ -n "$addr" ] || addr=$("${KC[@]}" get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}' 2>/dev/null || true)
  url="http://${addr:-<node address>}:$port"
  ;;
LoadBalancer)
  addr=$("${KC[@]}" get service mlplatform-web -o jsonpath='{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}')
  url="http://${addr:-<pending: kubectl -n $NS get service mlplatform-web -w>}"
  ;;
*)
  url="http://localhost:8000 (after: kubectl -n $NS port-forward service/mlplatform-web 8000:80)"
  ;;
esac
cat <<EOF

mlplatform is running in namespace $NS.
  Web UI and API:  $url
  Health:          curl $url/health
  First admin:     kubectl -n $NS exec -it deployment/mlplatform-web -- python manage.py createsuperuser
EOF
if [ "${PLAIN_HTTP:-0}" != 1 ]; then
  cat <<EOF
  HTTPS:           pages and the API redirect to https:// (only /health answers plain HTTP):
                   serve them through your TLS proxy, or deploy again with PLAIN_HTTP=1 to try
                   the platform over plain HTTP.
EOF
fi
