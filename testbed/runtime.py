"""Start, check and stop the local multi-cluster testbed.

One etcd, a Karmada control plane and two member clusters, every component a plain
process on 127.0.0.1 (there is no container runtime). Layout of the state directory
(`.testbed/` at the repository root unless TESTBED_HOME says otherwise):

    pki/            CA and certificates (regenerated on every clean start)
    kubeconfig/     karmada.yaml, member-cluster-1.yaml, member-cluster-2.yaml
    logs/<proc>.log one log per process
    run/<proc>.pid  pidfiles; state.json describes the running testbed
    etcd/           etcd data (wiped on every clean start)
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import pki, procs
from .kube import Kube, KubeError
from .polling import wait_for

REPO = Path(__file__).resolve().parent.parent
TESTBED_DIR = REPO / "testbed"
HOME = Path(os.environ.get("TESTBED_HOME") or REPO / ".testbed").resolve()
CACHE = Path(os.environ.get("TESTBED_CACHE") or Path.home() / ".cache" / "mlplatform" / "testbed")
MEMBERS = ["member-cluster-1", "member-cluster-2"]
DEFAULT_PORT_BASE = 29000
DEFAULT_POD_RUN_SECONDS = 5.0

# Labels and annotations understood by the kwok stages (see testbed/kwok-stages.yaml).
FAIL_LABEL = "testbed.mlplatform.io/outcome"
RUN_DURATION_ANNOTATION = "testbed.mlplatform.io/run-duration"

KUBEFLOW_SCHEMES = ["tfjob", "pytorchjob", "xgboostjob", "jaxjob", "paddlejob"]
CA_BUNDLE_PLACEHOLDER = "{{caBundle}}"

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- versions, binaries, upstream data -------------------------------------------------


def versions() -> dict[str, str]:
    out = {}
    for line in (TESTBED_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def component_dirs() -> dict[str, Path]:
    """Cache directories per component; names match testbed/build.sh."""
    v = versions()
    return {
        "kubernetes": CACHE / f"kubernetes-{v['KUBERNETES_VERSION']}",
        "karmada": CACHE / f"karmada-{v['KARMADA_VERSION']}",
        "training-operator": CACHE / f"training-operator-{v['TRAINING_OPERATOR_VERSION']}",
        "mpi-operator": CACHE / f"mpi-operator-{v['MPI_OPERATOR_VERSION']}-healthport",
        "kwok": CACHE / f"kwok-{v['KWOK_VERSION']}",
    }


def binary(component: str, name: str) -> str:
    return str(component_dirs()[component] / "bin" / name)


def binaries_ready() -> bool:
    return all((d / ".complete").is_file() for d in component_dirs().values())


def build(log: Log = _stderr) -> None:
    """Run build.sh, passing its progress lines to `log` as they come."""
    log("[testbed] building missing binaries with testbed/build.sh (cold: tens of minutes)")
    # Lines go through `log` rather than an inherited fd: under pytest's capture
    # sys.stderr may have no file descriptor at all.
    with subprocess.Popen(
        ["bash", str(TESTBED_DIR / "build.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as proc:
        for line in proc.stdout:
            log(line.rstrip())
    if proc.returncode != 0 or not binaries_ready():
        raise RuntimeError(
            "testbed/build.sh failed; its output is above. Re-run `bash testbed/build.sh` to retry."
        )


_module_dirs: dict[str, Path] = {}


def module_dir(module: str, version: str) -> Path:
    """Where the Go module cache holds an upstream module (CRDs and manifests are read there)."""
    key = f"{module}@{version}"
    if key not in _module_dirs:
        out = subprocess.run(
            ["go", "mod", "download", "-json", key],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        info = json.loads(out.stdout or "{}")
        if out.returncode != 0 or "Dir" not in info:
            raise RuntimeError(f"go mod download {key} failed: {info.get('Error') or out.stderr}")
        _module_dirs[key] = Path(info["Dir"])
    return _module_dirs[key]


def karmada_dir() -> Path:
    return module_dir("github.com/karmada-io/karmada", versions()["KARMADA_VERSION"])


def training_operator_dir() -> Path:
    return module_dir(
        "github.com/kubeflow/training-operator", versions()["TRAINING_OPERATOR_VERSION"]
    )


def mpi_operator_dir() -> Path:
    return module_dir("github.com/kubeflow/mpi-operator", versions()["MPI_OPERATOR_VERSION"])


def kwok_dir() -> Path:
    return module_dir("sigs.k8s.io/kwok", versions()["KWOK_VERSION"])


def load_yaml_docs(path: Path, replacements: dict[str, str] | None = None) -> list[dict]:
    text = path.read_text()
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    return [d for d in yaml.safe_load_all(text) if d]


# -- ports ----------------------------------------------------------------------------


def port_map(base: int) -> dict[str, int]:
    """Every listening port of the testbed, from one configurable base."""
    ports = {
        "etcd": base,
        "etcd-peer": base + 1,
        "karmada-apiserver": base + 10,
        "karmada-kube-controller-manager": base + 11,
        "karmada-aggregated-apiserver": base + 12,
        "karmada-webhook": base + 13,
        "karmada-webhook-metrics": base + 14,
        "karmada-webhook-health": base + 15,
        "karmada-controller-manager-metrics": base + 16,
        "karmada-controller-manager-health": base + 17,
        "karmada-scheduler-metrics": base + 18,
        "karmada-scheduler-health": base + 19,
    }
    for i, member in enumerate(MEMBERS, start=1):
        b = base + 20 * i
        ports[f"{member}-apiserver"] = b
        ports[f"{member}-kube-controller-manager"] = b + 1
        ports[f"{member}-kube-scheduler"] = b + 2
        ports[f"{member}-training-operator-metrics"] = b + 3
        ports[f"{member}-training-operator-health"] = b + 4
        ports[f"{member}-training-operator-webhook"] = b + 5
        ports[f"{member}-mpi-operator-health"] = b + 6
        ports[f"{member}-kwok"] = b + 7
    return ports


def _port_busy(port: int) -> bool:
    # Bind the wildcard address: that also fails when something holds 127.0.0.1:port,
    # and mpi-operator binds the wildcard itself.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return True
    return False


# -- the testbed's processes ----------------------------------------------------------


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # URL whose 200 answer means ready (https ones are verified with the testbed CA).
    health: str | None = None


@dataclass
class Layout:
    home: Path
    base: int
    pod_run_seconds: float

    @property
    def ports(self) -> dict[str, int]:
        return port_map(self.base)

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    def kubeconfig(self, cluster: str) -> Path:
        name = "karmada" if cluster == "karmada" else cluster
        return self.home / "kubeconfig" / f"{name}.yaml"

    def apiserver_url(self, cluster: str) -> str:
        return f"https://127.0.0.1:{self.ports[f'{cluster}-apiserver']}"

    def kube(self, cluster: str) -> Kube:
        return Kube(self.apiserver_url(cluster), self.pki)

    def token(self, member: str) -> str:
        return (self.home / "tokens" / f"{member}.token").read_text().strip()


def _https_health(port: int, path: str = "/healthz") -> str:
    return f"https://127.0.0.1:{port}{path}"


def _http_health(port: int, path: str = "/healthz") -> str:
    return f"http://127.0.0.1:{port}{path}"


def processes(lay: Layout) -> list[Proc]:
    """Every process of the testbed, in start order."""
    p = lay.ports
    pk = lay.pki
    etcd_url = f"http://127.0.0.1:{p['etcd']}"
    out = [
        Proc(
            "etcd",
            [
                binary("kubernetes", "etcd"),
                "--name=testbed",
                f"--data-dir={lay.home / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-cluster=testbed=http://127.0.0.1:{p['etcd-peer']}",
                # Throwaway data: durability is not worth an fsync per write on a small disk.
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
                "--auto-compaction-mode=periodic",
                "--auto-compaction-retention=5m",
                "--log-level=warn",
            ],
            health=_http_health(p["etcd"], "/health"),
        )
    ]

    def apiserver(cluster: str, extra: list[str]) -> Proc:
        return Proc(
            f"{cluster}-apiserver",
            [
                binary("kubernetes", "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                # All apiservers share the one etcd, each under its own prefix.
                f"--etcd-prefix=/{cluster}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={p[f'{cluster}-apiserver']}",
                f"--tls-cert-file={pk / 'server.crt'}",
                f"--tls-private-key-file={pk / 'server.key'}",
                f"--client-ca-file={pk / 'ca.crt'}",
                f"--service-account-issuer=https://{cluster}.testbed.local",
                f"--service-account-key-file={pk / 'sa.pub'}",
                f"--service-account-signing-key-file={pk / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/12",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                "--profiling=false",
                # One client per apiserver at testbed scale: APF only costs CPU here.
                "--enable-priority-and-fairness=false",
                # The `kubernetes` Service cannot have a loopback endpoint, and nothing
                # runs in a pod network that would need it.
                "--endpoint-reconciler-type=none",
                # Published in kube-system/extension-apiserver-authentication, where the
                # controller managers and schedulers look for it.
                f"--requestheader-client-ca-file={pk / 'ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-username-headers=X-Remote-User",
                *extra,
            ],
        )

    def kube_controller_manager(cluster: str, controllers: list[str], extra: list[str]) -> Proc:
        kc = lay.kubeconfig(cluster)
        port = p[f"{cluster}-kube-controller-manager"]
        return Proc(
            f"{cluster}-kube-controller-manager",
            [
                binary("kubernetes", "kube-controller-manager"),
                f"--kubeconfig={kc}",
                f"--authentication-kubeconfig={kc}",
                f"--authorization-kubeconfig={kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--tls-cert-file={pk / 'server.crt'}",
                f"--tls-private-key-file={pk / 'server.key'}",
                f"--controllers={','.join(controllers)}",
                "--leader-elect=false",
                f"--cluster-name={cluster}",
                f"--service-account-private-key-file={pk / 'sa.key'}",
                f"--root-ca-file={pk / 'ca.crt'}",
                "--use-service-account-credentials=false",
                "--profiling=false",
                *extra,
            ],
            health=_https_health(port),
        )

    # -- Karmada control plane
    karmada_kc = lay.kubeconfig("karmada")
    out.append(
        apiserver(
            "karmada",
            [
                # Karmada holds templates, not workloads: no service accounts to mount,
                # no PVCs to protect (as in Karmada's own deploy manifests).
                "--disable-admission-plugins=StorageObjectInUseProtection,ServiceAccount",
                f"--proxy-client-cert-file={pk / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pk / 'front-proxy-client.key'}",
            ],
        )
    )
    out.append(
        kube_controller_manager(
            "karmada",
            [
                "namespace-controller",
                # ResourceBindings and Works are removed through ownerReferences.
                "garbage-collector-controller",
                "serviceaccount-token-controller",
                "clusterrole-aggregation-controller",
            ],
            [],
        )
    )
    out.append(
        Proc(
            "karmada-aggregated-apiserver",
            [
                binary("karmada", "aggregated-apiserver"),
                f"--kubeconfig={karmada_kc}",
                f"--authentication-kubeconfig={karmada_kc}",
                f"--authorization-kubeconfig={karmada_kc}",
                f"--etcd-servers={etcd_url}",
                "--etcd-prefix=/karmada-aggregated",
                "--bind-address=127.0.0.1",
                f"--secure-port={p['karmada-aggregated-apiserver']}",
                f"--tls-cert-file={pk / 'server.crt'}",
                f"--tls-private-key-file={pk / 'server.key'}",
                "--profiling=false",
            ],
            health=_https_health(p["karmada-aggregated-apiserver"], "/readyz"),
        )
    )
    out.append(
        Proc(
            "karmada-webhook",
            [
                binary("karmada", "webhook"),
                f"--kubeconfig={karmada_kc}",
                "--bind-address=127.0.0.1",
                f"--secure-port={p['karmada-webhook']}",
                f"--cert-dir={pk / 'serving'}",
                f"--metrics-bind-address=127.0.0.1:{p['karmada-webhook-metrics']}",
                f"--health-probe-bind-address=127.0.0.1:{p['karmada-webhook-health']}",
            ],
            # karmada-webhook serves its readiness on the webhook port, not the probe port.
            health=_https_health(p["karmada-webhook"], "/readyz/"),
        )
    )
    out.append(
        Proc(
            "karmada-controller-manager",
            [
                binary("karmada", "controller-manager"),
                f"--kubeconfig={karmada_kc}",
                # One instance: a lease would only delay a restart by its duration.
                "--leader-elect=false",
                f"--metrics-bind-address=127.0.0.1:{p['karmada-controller-manager-metrics']}",
                f"--health-probe-bind-address=127.0.0.1:{p['karmada-controller-manager-health']}",
                "--cluster-status-update-frequency=5s",
            ],
            health=_http_health(p["karmada-controller-manager-health"]),
        )
    )
    out.append(
        Proc(
            "karmada-scheduler",
            [
                binary("karmada", "scheduler"),
                f"--kubeconfig={karmada_kc}",
                "--leader-elect=false",
                f"--metrics-bind-address=127.0.0.1:{p['karmada-scheduler-metrics']}",
                f"--health-probe-bind-address=127.0.0.1:{p['karmada-scheduler-health']}",
            ],
            health=_http_health(p["karmada-scheduler-health"]),
        )
    )

    # -- member clusters
    for member in MEMBERS:
        kc = lay.kubeconfig(member)
        out.append(
            apiserver(
                member,
                [
                    # Karmada reaches members with a bearer token only.
                    f"--token-auth-file={lay.home / 'tokens' / f'{member}.csv'}",
                    # This admission taints new nodes not-ready until the node lifecycle
                    # controller clears it; kwok nodes are ready at once and that
                    # controller (with its pod evictions) has no use here.
                    "--disable-admission-plugins=TaintNodesByCondition",
                    f"--kubelet-certificate-authority={pk / 'ca.crt'}",
                    f"--kubelet-client-certificate={pk / 'admin.crt'}",
                    f"--kubelet-client-key={pk / 'admin.key'}",
                    "--kubelet-preferred-address-types=InternalIP",
                ],
            )
        )
        out.append(
            kube_controller_manager(
                member,
                [
                    "namespace-controller",
                    "garbage-collector-controller",
                    "serviceaccount-controller",
                    "serviceaccount-token-controller",
                    "root-ca-certificate-publisher-controller",
                    "clusterrole-aggregation-controller",
                    # mpi-operator's launcher is a batch Job.
                    "job-controller",
                    "ttl-after-finished-controller",
                    "pod-garbage-collector-controller",
                    # Jobs mount a generic ephemeral volume: its PVC is provisioned by the
                    # hostPath provisioner below and bound before the pod can schedule.
                    "ephemeral-volume-controller",
                    "persistentvolume-binder-controller",
                    "persistentvolume-protection-controller",
                    "persistentvolumeclaim-protection-controller",
                ],
                ["--enable-hostpath-provisioner=true"],
            )
        )
        sched_port = p[f"{member}-kube-scheduler"]
        out.append(
            Proc(
                f"{member}-kube-scheduler",
                [
                    binary("kubernetes", "kube-scheduler"),
                    f"--kubeconfig={kc}",
                    f"--authentication-kubeconfig={kc}",
                    f"--authorization-kubeconfig={kc}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={sched_port}",
                    f"--tls-cert-file={pk / 'server.crt'}",
                    f"--tls-private-key-file={pk / 'server.key'}",
                    "--leader-elect=false",
                    "--profiling=false",
                ],
                health=_https_health(sched_port),
            )
        )
        kwok_port = p[f"{member}-kwok"]
        out.append(
            Proc(
                f"{member}-kwok",
                [
                    binary("kwok", "kwok"),
                    f"--kubeconfig={kc}",
                    "--manage-all-nodes=true",
                    f"--config={lay.home / 'kwok' / f'{member}-stages.yaml'}",
                    # Fake pod IPs only; a /16 leaves room for many pods per node.
                    "--cidr=10.0.0.1/16",
                    # kwok also plays each node's kubelet server (pod logs): the apiserver
                    # dials <node InternalIP>:<node port>, so nodes get 127.0.0.1 and a
                    # port of their own per member.
                    "--node-ip=127.0.0.1",
                    f"--node-port={kwok_port}",
                    f"--server-address=127.0.0.1:{kwok_port}",
                    f"--tls-cert-file={pk / 'server.crt'}",
                    f"--tls-private-key-file={pk / 'server.key'}",
                ],
                health=_https_health(kwok_port),
            )
        )
        to_tmp = lay.home / "run" / f"{member}-training-operator"
        out.append(
            Proc(
                f"{member}-training-operator",
                [
                    binary("training-operator", "training-operator.v1"),
                    f"--metrics-bind-address=127.0.0.1:{p[f'{member}-training-operator-metrics']}",
                    f"--health-probe-bind-address=127.0.0.1:{p[f'{member}-training-operator-health']}",
                    f"--webhook-server-port={p[f'{member}-training-operator-webhook']}",
                    *[f"--enable-scheme={s}" for s in KUBEFLOW_SCHEMES],
                    "--zap-log-level=info",
                ],
                env={
                    "KUBECONFIG": str(kc),
                    "MY_POD_NAMESPACE": "kubeflow",
                    # controller-runtime's webhook server reads its certificate from
                    # $TMPDIR/k8s-webhook-server/serving-certs: one directory per instance.
                    "TMPDIR": str(to_tmp),
                },
                health=_http_health(p[f"{member}-training-operator-health"], "/readyz"),
            )
        )
        out.append(
            Proc(
                f"{member}-mpi-operator",
                [
                    binary("mpi-operator", "mpi-operator"),
                    f"--kubeConfig={kc}",
                    "--lock-namespace=mpi-operator",
                    "--monitoring-port=0",
                ],
                env={"MPI_OPERATOR_HEALTH_PORT": str(p[f"{member}-mpi-operator-health"])},
                health=_http_health(p[f"{member}-mpi-operator-health"]),
            )
        )
    return out


def process_names() -> list[str]:
    return [p.name for p in processes(Layout(HOME, DEFAULT_PORT_BASE, DEFAULT_POD_RUN_SECONDS))]


# -- files written before start -------------------------------------------------------


def _b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def write_kubeconfig(lay: Layout, cluster: str) -> None:
    context = "karmada-apiserver" if cluster == "karmada" else cluster
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": lay.apiserver_url(cluster),
                    "certificate-authority-data": _b64((lay.pki / "ca.crt").read_bytes()),
                },
            }
        ],
        "users": [
            {
                "name": f"{context}-admin",
                "user": {
                    "client-certificate-data": _b64((lay.pki / "admin.crt").read_bytes()),
                    "client-key-data": _b64((lay.pki / "admin.key").read_bytes()),
                },
            }
        ],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": f"{context}-admin"}}
        ],
        "current-context": context,
    }
    path = lay.kubeconfig(cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)


def kwok_config(lay: Layout) -> list[dict]:
    """kwok's configuration: its own fast pod stages, the testbed's job stages, pod logs.

    kwok only falls back to its built-in pod stages when none are configured, so the
    upstream ones are loaded from the kwok module and combined with ours; its stock
    pod-complete stage must leave Kubeflow pods (and pods meant to fail) to ours.
    """
    fast = kwok_dir() / "kustomize" / "stage" / "pod" / "fast"
    stages = []
    for name in ("pod-ready", "pod-complete", "pod-delete"):
        stage = load_yaml_docs(fast / f"{name}.yaml")[0]
        exprs = stage["spec"]["selector"]["matchExpressions"]
        if name == "pod-ready":
            # Pods look like they take a moment to start, as the product expects.
            stage["spec"]["delay"] = {"durationMilliseconds": 1000}
        if name == "pod-complete":
            exprs.append(
                {
                    "key": '.metadata.labels["training.kubeflow.org/job-name"]',
                    "operator": "DoesNotExist",
                }
            )
            exprs.append(
                {
                    "key": f'.metadata.labels["{FAIL_LABEL}"]',
                    "operator": "NotIn",
                    "values": ["fail"],
                }
            )
        stages.append(stage)
    ms = str(int(lay.pod_run_seconds * 1000))
    text = (TESTBED_DIR / "kwok-stages.yaml").read_text().replace("__RUN_MILLISECONDS__", ms)
    stages += [d for d in yaml.safe_load_all(text) if d]
    # Every container of every pod "logs" the same few lines, so that log reading
    # (kubectl logs, Karmada's cluster proxy) has something real to return.
    stages.append(
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "testbed-pod-logs"},
            "spec": {"selector": {}, "logs": [{"logsFile": str(lay.home / "kwok" / "pod.log")}]},
        }
    )
    return stages


POD_LOG_LINES = [
    "testbed: this pod runs on a kwok node; no container process exists",
    "testbed: it ends as its kwok stage says (Succeeded, or Failed with outcome=fail)",
]


def write_kwok_config(lay: Layout) -> None:
    (lay.home / "kwok").mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump_all(kwok_config(lay), sort_keys=False)
    # kwok reads log files in the CRI log format.
    (lay.home / "kwok" / "pod.log").write_text(
        "".join(
            f"2025-01-01T00:00:0{i}.000000000Z stdout F {line}\n"
            for i, line in enumerate(POD_LOG_LINES)
        )
    )
    for member in MEMBERS:
        (lay.home / "kwok" / f"{member}-stages.yaml").write_text(text)


def prepare_files(lay: Layout) -> None:
    pki.generate(lay.pki)
    # karmada-webhook reads tls.crt/tls.key from one directory.
    serving = lay.pki / "serving"
    serving.mkdir(exist_ok=True)
    shutil.copy(lay.pki / "server.crt", serving / "tls.crt")
    shutil.copy(lay.pki / "server.key", serving / "tls.key")

    tokens = lay.home / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    for member in MEMBERS:
        token = base64.b32encode(os.urandom(20)).decode().lower()
        (tokens / f"{member}.token").write_text(token)
        (tokens / f"{member}.csv").write_text(f'{token},karmada,karmada,"system:masters"\n')

    for cluster in ["karmada", *MEMBERS]:
        write_kubeconfig(lay, cluster)
    write_kwok_config(lay)

    for member in MEMBERS:
        certs = (
            lay.home
            / "run"
            / f"{member}-training-operator"
            / "k8s-webhook-server"
            / "serving-certs"
        )
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(lay.pki / "server.crt", certs / "tls.crt")
        shutil.copy(lay.pki / "server.key", certs / "tls.key")
    # The training-operator's certificate rotator waits until this fixed path holds a
    # certificate (in a pod, the mounted Secret); only its existence is checked.
    marker = Path("/tmp/k8s-webhook-server/serving-certs")
    if not (marker / "tls.crt").exists():
        marker.mkdir(parents=True, exist_ok=True)
        shutil.copy(lay.pki / "server.crt", marker / "tls.crt")
        shutil.copy(lay.pki / "server.key", marker / "tls.key")


# -- health ---------------------------------------------------------------------------


def _ssl_context(lay: Layout) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))
    ctx.load_cert_chain(str(lay.pki / "admin.crt"), str(lay.pki / "admin.key"))
    return ctx


def url_ok(lay: Layout, url: str, timeout: float = 3) -> bool:
    try:
        ctx = _ssl_context(lay) if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=timeout, context=ctx) as resp:
            return resp.status == 200
    except Exception:
        return False


def cluster_ready(karmada: Kube, member: str) -> bool:
    try:
        obj = karmada.request(
            "GET", f"/apis/cluster.karmada.io/v1alpha1/clusters/{member}", timeout=5
        )
    except KubeError:
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (obj.get("status") or {}).get("conditions", [])
    )


# -- state ----------------------------------------------------------------------------


def read_state(home: Path = HOME) -> dict | None:
    try:
        return json.loads((home / "state.json").read_text())
    except (OSError, ValueError):
        return None


def current_layout(home: Path = HOME) -> Layout | None:
    state = read_state(home)
    if not state:
        return None
    return Layout(home, state["port_base"], state["pod_run_seconds"])


def requested_port_base() -> int:
    raw = os.environ.get("TESTBED_PORT_BASE")
    try:
        return int(raw) if raw else DEFAULT_PORT_BASE
    except ValueError:
        raise RuntimeError(f"TESTBED_PORT_BASE={raw!r} is not a port number") from None


def requested_pod_run_seconds() -> float:
    raw = os.environ.get("TESTBED_POD_RUN_SECONDS")
    try:
        value = float(raw) if raw else DEFAULT_POD_RUN_SECONDS
    except ValueError:
        raise RuntimeError(f"TESTBED_POD_RUN_SECONDS={raw!r} is not a number of seconds") from None
    if value < 0:
        raise RuntimeError("TESTBED_POD_RUN_SECONDS must not be negative")
    return value


@contextlib.contextmanager
def lock(home: Path = HOME) -> Iterator[None]:
    """One `up`/`down` at a time per state directory (pytest and `make run` may race)."""
    # Outside the state directory, which `down` removes; not under $TMPDIR, which may
    # differ between the processes that race.
    digest = hashlib.sha256(str(home).encode()).hexdigest()[:16]
    path = CACHE / "locks" / f"{digest}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def health_report(home: Path = HOME) -> tuple[bool, list[str]]:
    """(healthy, problems) of a running testbed, checked quickly."""
    lay = current_layout(home)
    if lay is None or not read_state(home).get("ready"):
        return False, ["no running testbed (no .testbed/state.json from a finished `up`)"]
    problems = [
        f"process {p.name} is not running" for p in processes(lay) if not procs.alive(home, p.name)
    ]
    if problems:
        return False, problems
    karmada = lay.kube("karmada")
    try:
        if not karmada.healthy():
            return False, ["karmada-apiserver is not ready"]
        for member in MEMBERS:
            if not cluster_ready(karmada, member):
                problems.append(f"Karmada Cluster {member} is not Ready")
    finally:
        karmada.close()
    return not problems, problems


# -- up / down ------------------------------------------------------------------------


class Phases:
    """Prints progress and times each phase of a start."""

    def __init__(self, log: Log):
        self.log = log
        self.start = time.monotonic()
        self.times: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.monotonic()
        self.log(f"[testbed] {time.monotonic() - self.start:6.1f}s  {name} ...")
        yield
        took = time.monotonic() - t
        self.times.append((name, took))
        self.log(f"[testbed] {time.monotonic() - self.start:6.1f}s  {name}: done in {took:.1f}s")

    @property
    def total(self) -> float:
        return time.monotonic() - self.start


def _start(lay: Layout, proc: Proc, started: dict[str, subprocess.Popen]) -> None:
    started[proc.name] = procs.start(proc.name, proc.argv, home=lay.home, env=proc.env)


def _check_alive(lay: Layout, started: dict[str, subprocess.Popen]) -> None:
    for name, popen in started.items():
        code = popen.poll()
        if code is not None:
            log_path = lay.home / "logs" / f"{name}.log"
            raise RuntimeError(
                f"{name} exited with code {code} while the testbed was starting. "
                f"Last lines of {log_path}:\n{procs.tail(log_path)}"
            )


def _wait_healthy(lay: Layout, plist: list[Proc], started: dict, timeout: float) -> None:
    pending = [p for p in plist if p.health]
    deadline = time.monotonic() + timeout
    while pending:
        _check_alive(lay, started)
        pending = [p for p in pending if not url_ok(lay, p.health)]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{p.name} ({p.health})" for p in pending)
            logs = ", ".join(str(lay.home / "logs" / f"{p.name}.log") for p in pending)
            raise RuntimeError(f"timed out waiting for {names} to report healthy; see {logs}")
        time.sleep(0.3)


def _crd_established(kube: Kube, name: str) -> bool:
    crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    return bool(crd) and any(
        c["type"] == "Established" and c["status"] == "True"
        for c in crd.get("status", {}).get("conditions", [])
    )


def karmada_crds(lay: Layout) -> list[dict]:
    """Karmada's CRDs as its kustomization lists them, with the conversion webhook patches
    pointed at the local karmada-webhook."""
    crd_root = karmada_dir() / "charts" / "karmada" / "_crds"
    kustomization = yaml.safe_load((crd_root / "kustomization.yaml").read_text())
    crds = {}
    for rel in kustomization["resources"]:
        for doc in load_yaml_docs(crd_root / rel):
            crds[doc["metadata"]["name"]] = doc
    webhook = f"https://127.0.0.1:{lay.ports['karmada-webhook']}"
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    for patch in kustomization.get("patches", []):
        doc = load_yaml_docs(
            crd_root / patch["path"],
            {"https://{{name}}.{{namespace}}.svc:443": webhook, CA_BUNDLE_PLACEHOLDER: ca},
        )[0]
        crds[doc["metadata"]["name"]]["spec"]["conversion"] = doc["spec"]["conversion"]
    return list(crds.values())


def kubeflow_crds() -> list[dict]:
    base = training_operator_dir() / "manifests" / "base" / "crds"
    docs = []
    for scheme in KUBEFLOW_SCHEMES:
        docs += load_yaml_docs(base / f"kubeflow.org_{scheme}s.yaml")
    # v2beta1 MPIJob comes from mpi-operator; training-operator's v1 MPIJob CRD has the
    # same name and would clash with it.
    docs += load_yaml_docs(mpi_operator_dir() / "manifests" / "base" / "kubeflow.org_mpijobs.yaml")
    return docs


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def karmada_objects(lay: Layout) -> list[dict]:
    """Namespaces, webhook configurations and the aggregated APIService, from Karmada's
    deploy manifests rewritten for processes on 127.0.0.1."""
    deploy = karmada_dir() / "artifacts" / "deploy"
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    objs = [_namespace("karmada-system"), _namespace("karmada-cluster")]
    objs += load_yaml_docs(
        deploy / "webhook-configuration.yaml",
        {
            "https://karmada-webhook.karmada-system.svc:443/": f"https://127.0.0.1:{lay.ports['karmada-webhook']}/",
            CA_BUNDLE_PLACEHOLDER: ca,
        },
    )
    for doc in load_yaml_docs(
        deploy / "karmada-aggregated-apiserver-apiservice.yaml", {CA_BUNDLE_PLACEHOLDER: ca}
    ):
        if doc["kind"] == "APIService":
            doc["spec"]["service"]["port"] = lay.ports["karmada-aggregated-apiserver"]
        if doc["kind"] == "Service":
            # The aggregator dials <externalName>:<APIService port> and checks the
            # certificate for <service>.<namespace>.svc, which the testbed cert carries.
            doc["spec"]["externalName"] = "localhost"
        objs.append(doc)
    return objs


def node_objects(member: str) -> list[dict]:
    """Four kwok nodes: GPU nodes in member-cluster-1, larger CPU-only nodes in member-cluster-2."""
    gpu = member == "member-cluster-1"
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi"}
    if gpu:
        capacity["nvidia.com/gpu"] = "4"
    else:
        capacity.update({"cpu": "32", "memory": "128Gi"})
    nodes = []
    for i in range(4):
        name = f"{member}-node-{i}"
        labels = {
            "type": "kwok",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        if gpu:
            labels.update({"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "4"})
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
                "spec": {},
                # A node's status may be set on create; kwok keeps capacity as given.
                "status": {"capacity": dict(capacity), "allocatable": dict(capacity)},
            }
        )
    return nodes


def member_objects() -> list[dict]:
    return [
        # training-operator's certificate rotator fills this Secret; it must exist.
        _namespace("kubeflow"),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "training-operator-webhook-cert", "namespace": "kubeflow"},
        },
        # mpi-operator always takes its leader lease here.
        _namespace("mpi-operator"),
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/host-path",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        },
    ]


def interpreter_customizations() -> list[dict]:
    docs = []
    for path in sorted((REPO / "k8s" / "karmada").glob("*.yaml")):
        docs += [
            d for d in load_yaml_docs(path) if d.get("kind") == "ResourceInterpreterCustomization"
        ]
    return docs


def join_objects(lay: Layout, member: str, cluster_id: str) -> list[dict]:
    """What `karmadactl join` leaves in Karmada for a Push-mode member."""
    token = _b64(lay.token(member))
    ca = _b64((lay.pki / "ca.crt").read_bytes())
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": member, "namespace": "karmada-cluster"},
            "data": {"token": token, "caBundle": ca},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{member}-impersonator", "namespace": "karmada-cluster"},
            "data": {"token": token},
        },
        {
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": member},
            "spec": {
                "id": cluster_id,
                "syncMode": "Push",
                "apiEndpoint": lay.apiserver_url(member),
                "secretRef": {"namespace": "karmada-cluster", "name": member},
                "impersonatorSecretRef": {
                    "namespace": "karmada-cluster",
                    "name": f"{member}-impersonator",
                },
            },
        },
    ]


def _stop_everything(home: Path) -> int:
    # Everything is thrown away (etcd data included), so a graceful apiserver shutdown,
    # which drains watches for 10s and more, buys nothing: a short grace, then SIGKILL.
    return procs.stop_all(home, process_names(), grace=1.0)


def _clean_home(home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)


def up(*, timeout: float = 600, log: Log = _stderr, build_if_missing: bool = True) -> Layout:
    """Reuse a healthy testbed, or start one from scratch. Returns its layout."""
    phases = Phases(log)
    with lock():
        healthy, problems = health_report()
        if not healthy and current_layout() is not None and read_state().get("ready"):
            # Processes up but a Cluster momentarily not Ready (e.g. right after a
            # heavy test): give it a short grace period before paying for a restart.
            lay = current_layout()
            if all(procs.alive(HOME, p.name) for p in processes(lay)):
                deadline = time.monotonic() + 30
                while not healthy and time.monotonic() < deadline:
                    time.sleep(1)
                    healthy, problems = health_report()
        if healthy:
            lay = current_layout()
            _refresh_pod_run_seconds(lay, log)
            log(f"[testbed] reusing the running testbed ({phases.total:.1f}s)")
            return lay
        if current_layout() is not None or procs.marked_pids(HOME):
            log(f"[testbed] not reusable ({'; '.join(problems)}): starting clean")

        if not binaries_ready():
            if not build_if_missing:
                raise RuntimeError("testbed binaries are missing: run `bash testbed/build.sh`")
            with phases.phase("build binaries (testbed/build.sh)"):
                build(log)

        lay = Layout(HOME, requested_port_base(), requested_pod_run_seconds())
        plist = {p.name: p for p in processes(lay)}
        started: dict[str, subprocess.Popen] = {}
        try:
            _up(lay, plist, started, phases, timeout)
        except BaseException:
            # Half a testbed only costs memory; the logs stay for diagnosis and the next
            # `up` starts clean anyway.
            _stop_everything(HOME)
            logs = f", logs kept in {HOME / 'logs'}" if (HOME / "logs").is_dir() else ""
            log(f"[testbed] start failed after {phases.total:.1f}s; processes stopped{logs}")
            raise
        state = {
            "port_base": lay.base,
            "pod_run_seconds": lay.pod_run_seconds,
            "ready": True,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "start_seconds": round(phases.total, 1),
            "phases": {name: round(t, 1) for name, t in phases.times},
        }
        (HOME / "state.json").write_text(json.dumps(state, indent=2))
        log(
            f"[testbed] up in {phases.total:.1f}s: "
            + ", ".join(f"{n} {t:.1f}s" for n, t in phases.times)
        )
        return lay


def _up(lay: Layout, plist: dict[str, Proc], started: dict, phases: Phases, timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(5.0, deadline - time.monotonic())

    def start(*names: str) -> None:
        for name in names:
            _start(lay, plist[name], started)

    def log_hint(name: str) -> Callable[[], str]:
        return lambda: f"see {lay.home / 'logs' / f'{name}.log'}"

    with phases.phase("clean up leftovers"):
        stopped = _stop_everything(HOME)
        _clean_home(HOME)
        # A killed Go process shows as exited (zombie main thread) a moment before its
        # other threads are gone and its sockets closed: give the ports a few seconds.
        busy_until = time.monotonic() + (15 if stopped else 0)
        while True:
            busy = [f"{name}={port}" for name, port in lay.ports.items() if _port_busy(port)]
            if not busy or time.monotonic() > busy_until:
                break
            time.sleep(0.2)
        if busy:
            more = f" and {len(busy) - 4} more" if len(busy) > 4 else ""
            raise RuntimeError(
                f"ports needed by the testbed are in use by other programs: "
                f"{', '.join(busy[:4])}{more}. "
                f"Set TESTBED_PORT_BASE to another base (the testbed uses "
                f"{lay.base}..{max(lay.ports.values())})."
            )

    with phases.phase("certificates and config"):
        prepare_files(lay)

    with phases.phase("etcd"):
        start("etcd")
        _wait_healthy(lay, [plist["etcd"]], started, left())

    clusters = ["karmada", *MEMBERS]
    kubes = {c: lay.kube(c) for c in clusters}
    pool = ThreadPoolExecutor(max_workers=len(clusters))
    try:
        with phases.phase("apiservers"):
            start(*(f"{c}-apiserver" for c in clusters))
            for c in clusters:
                wait_for(
                    lambda c=c: (_check_alive(lay, started), kubes[c].healthy())[1],
                    message=f"{c}-apiserver /readyz",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint(f"{c}-apiserver"),
                )

        with phases.phase("Karmada CRDs and components, member controllers, kwok nodes"):
            for m in MEMBERS:
                start(f"{m}-kube-controller-manager", f"{m}-kube-scheduler", f"{m}-kwok")
                kubes[m].apply_all(node_objects(m))
                kubes[m].apply_all(member_objects())
            crds = karmada_crds(lay)
            kubes["karmada"].apply_all(crds)
            kubes["karmada"].apply_all(karmada_objects(lay))
            _wait_established(kubes["karmada"], crds, left())
            start(
                "karmada-kube-controller-manager",
                "karmada-aggregated-apiserver",
                "karmada-webhook",
                "karmada-controller-manager",
                "karmada-scheduler",
            )

        # Karmada's components take several seconds to sync their informers: install the
        # Kubeflow CRDs (large: each apiserver rebuilds its OpenAPI) meanwhile, one thread
        # per apiserver.
        with phases.phase("Kubeflow CRDs, member operators"):
            kubeflow = kubeflow_crds()

            def install(c: str) -> None:
                kubes[c].apply_all(kubeflow)
                _wait_established(kubes[c], kubeflow, left())

            for future in [pool.submit(install, c) for c in clusters]:
                future.result()
            for m in MEMBERS:
                start(f"{m}-training-operator", f"{m}-mpi-operator")

        with phases.phase("every process healthy, Karmada aggregated API available"):
            _wait_healthy(lay, list(plist.values()), started, left())
            wait_for(
                lambda: (
                    _check_alive(lay, started),
                    kubes["karmada"].request("GET", "/apis/cluster.karmada.io/v1alpha1"),
                )[1],
                message="APIService v1alpha1.cluster.karmada.io available",
                retry_on=(KubeError,),
                interval=0.5,
                timeout=left(),
                on_timeout=log_hint("karmada-aggregated-apiserver"),
            )

        with phases.phase("interpreter customizations, member join"):
            kubes["karmada"].apply_all(interpreter_customizations())
            for m in MEMBERS:
                kube_system = kubes[m].get("v1", "Namespace", "kube-system")
                kubes["karmada"].apply_all(join_objects(lay, m, kube_system["metadata"]["uid"]))

        with phases.phase("clusters Ready in Karmada, kwok nodes Ready"):
            for m in MEMBERS:
                wait_for(
                    lambda m=m: (_check_alive(lay, started), cluster_ready(kubes["karmada"], m))[1],
                    message=f"Karmada Cluster {m} Ready",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint("karmada-controller-manager"),
                )
                wait_for(
                    lambda m=m: _nodes_ready(kubes[m]),
                    message=f"kwok nodes Ready in {m}",
                    retry_on=(KubeError,),
                    interval=0.5,
                    timeout=left(),
                    on_timeout=log_hint(f"{m}-kwok"),
                )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for k in kubes.values():
            k.close()


def _wait_established(kube: Kube, crds: list[dict], timeout: float) -> None:
    names = [d["metadata"]["name"] for d in crds]
    wait_for(
        lambda: all(_crd_established(kube, n) for n in names),
        message=f"CRDs established in {kube.host}",
        retry_on=(KubeError,),
        interval=0.5,
        timeout=timeout,
    )


def _nodes_ready(kube: Kube) -> bool:
    nodes = kube.list("v1", "Node")
    return len(nodes) >= 4 and all(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions", [])
        )
        for n in nodes
    )


def _refresh_pod_run_seconds(lay: Layout, log: Log) -> None:
    """Honour a changed TESTBED_POD_RUN_SECONDS on reuse by restarting only kwok."""
    wanted = requested_pod_run_seconds()
    if wanted == lay.pod_run_seconds:
        return
    log(
        f"[testbed] TESTBED_POD_RUN_SECONDS changed {lay.pod_run_seconds:g} -> {wanted:g}: "
        "restarting kwok"
    )
    lay.pod_run_seconds = wanted
    write_kwok_config(lay)
    plist = {p.name: p for p in processes(lay)}
    for m in MEMBERS:
        name = f"{m}-kwok"
        info = procs.read_pidfile(lay.home, name)
        if info and procs.alive(lay.home, name):
            procs.stop_pids([info["pid"]])
        procs.start(name, plist[name].argv, home=lay.home, env=plist[name].env)
    state = read_state(lay.home)
    state["pod_run_seconds"] = wanted
    (lay.home / "state.json").write_text(json.dumps(state, indent=2))


def down(*, log: Log = _stderr) -> None:
    with lock():
        _stop_everything(HOME)
        _clean_home(HOME)
    log(f"[testbed] stopped; removed {HOME}")


def export_line(home: Path = HOME) -> str:
    return f"export KARMADA_KUBECONFIG_PATH={home / 'kubeconfig' / 'karmada.yaml'}"


def status_lines(home: Path = HOME) -> tuple[bool, list[str]]:
    lay = current_layout(home)
    if lay is None:
        marked = procs.marked_pids(home)
        extra = f" ({len(marked)} leftover processes: `up` or `down` cleans them)" if marked else ""
        return False, [f"testbed: down{extra}"]
    lines = [
        f"testbed: {home} (ports {lay.base}..{max(lay.ports.values())}, "
        f"pod run {lay.pod_run_seconds:g}s)"
    ]
    for p in processes(lay):
        info = procs.read_pidfile(home, p.name) or {}
        if not procs.alive(home, p.name):
            state = "down"
        elif p.health and not url_ok(lay, p.health):
            state = "up (not healthy)"
        else:
            state = "up"
        lines.append(f"  {p.name:42s} {state:18s} pid {info.get('pid', '-')}")
    karmada = lay.kube("karmada")
    try:
        for m in MEMBERS:
            lines.append(
                f"  Cluster {m:34s} {'Ready' if cluster_ready(karmada, m) else 'NOT Ready'}"
            )
    finally:
        karmada.close()
    healthy, _ = health_report(home)
    lines.append(f"healthy: {'yes' if healthy else 'no'}")
    return healthy, lines


def rss_bytes(home: Path = HOME) -> dict[str, int]:
    """Resident memory of each running testbed process (with its children)."""
    out = {}
    lay = current_layout(home)
    if lay is None:
        return out
    for p in processes(lay):
        info = procs.read_pidfile(home, p.name)
        if not info or not procs.alive(home, p.name):
            continue
        try:
            for line in Path(f"/proc/{info['pid']}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[p.name] = int(line.split()[1]) * 1024
        except OSError:
            pass
    return out
