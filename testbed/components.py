"""Every process of the testbed: command line, environment and health URL, in start order."""

from __future__ import annotations

from dataclasses import dataclass, field

from .binaries import binary
from .config import DEFAULT_POD_RUN_SECONDS, DEFAULT_PORT_BASE, HOME, KUBEFLOW_SCHEMES, MEMBERS
from .layout import Layout


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # URL whose 200 answer means ready (https ones are verified with the testbed CA).
    health: str | None = None

    def __post_init__(self) -> None:
        self.env = {**GO_RUNTIME_ENV, **self.env}


# Client rate limits of the controllers that carry a burst of jobs. Their defaults (20 to 40
# requests per second, some with one worker) were set for clusters where many controllers
# share one API server; here each carries a whole burst alone, and a job takes about ten
# requests per controller, so the defaults made them the pipeline's bottleneck. See
# testbed/README.md, "Tuning", for each flag and why.
API_QPS = "300"
API_BURST = "600"

# Every component is a Go program, and under a burst a quarter of the API servers' CPU went
# to the garbage collector (a profile of karmada-apiserver: gcBgMarkWorker 14 %, with
# allocation assists and sweeping on top). Collecting at four times the live heap instead
# of twice trades memory, of which the testbed has plenty, for that CPU.
GO_RUNTIME_ENV = {"GOGC": "400"}


def _https_health(port: int, path: str = "/healthz") -> str:
    return f"https://127.0.0.1:{port}{path}"


def _http_health(port: int, path: str = "/healthz") -> str:
    return f"http://127.0.0.1:{port}{path}"


TRAINER_V2_COMPONENTS = ("jobset", "trainer")


def is_trainer_v2(name: str) -> bool:
    """Whether the process called ``name`` belongs to Trainer v2 (started on demand)."""
    return name.rsplit("-", 1)[-1] in TRAINER_V2_COMPONENTS


def processes(lay: Layout) -> list[Proc]:
    """Every process of the testbed, in start order; Trainer v2's only when
    ``lay.trainer_v2``."""
    return [p for p in _all_processes(lay) if lay.trainer_v2 or not is_trainer_v2(p.name)]


def _all_processes(lay: Layout) -> list[Proc]:
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
                f"--kube-api-qps={API_QPS}",
                f"--kube-api-burst={API_BURST}",
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
                f"--kube-api-qps={API_QPS}",
                f"--kube-api-burst={API_BURST}",
                f"--cluster-api-qps={API_QPS}",
                f"--cluster-api-burst={API_BURST}",
                # Templates, bindings and Works of a burst are independent objects.
                "--concurrent-resource-template-syncs=10",
                "--concurrent-resourcebinding-syncs=10",
                "--concurrent-work-syncs=10",
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
                f"--kube-api-qps={API_QPS}",
                f"--kube-api-burst={API_BURST}",
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
                    # Client rate limit and leader election: see kube_scheduler_config.
                    f"--config={lay.home / 'kube-scheduler' / f'{member}.yaml'}",
                    f"--authentication-kubeconfig={kc}",
                    f"--authorization-kubeconfig={kc}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={sched_port}",
                    f"--tls-cert-file={pk / 'server.crt'}",
                    f"--tls-private-key-file={pk / 'server.key'}",
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
                    # One worker (the default) reconciled about 4 jobs a second.
                    "--controller-threads=8",
                    f"--kube-api-qps={API_QPS}",
                    f"--kube-api-burst={API_BURST}",
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
                    "--threadiness=4",
                    f"--kube-api-qps={API_QPS}",
                    f"--kube-api-burst={API_BURST}",
                ],
                env={"MPI_OPERATOR_HEALTH_PORT": str(p[f"{member}-mpi-operator-health"])},
                health=_http_health(p[f"{member}-mpi-operator-health"]),
            )
        )
        # Kubeflow Trainer v2 (TRAINING_BACKEND=v2): the JobSet controller, then Trainer's
        # controller manager, which turns TrainJobs into JobSets. Both read a config file
        # written by runtime.prepare_files (ports, no leader election, certificates
        # provided rather than self-managed, metrics off).
        out.append(
            Proc(
                f"{member}-jobset",
                [
                    binary("jobset", "jobset"),
                    f"--kubeconfig={kc}",
                    f"--config={lay.home / 'run' / f'{member}-jobset' / 'config.yaml'}",
                    "--zap-log-level=info",
                ],
                health=_http_health(p[f"{member}-jobset-health"], "/readyz"),
            )
        )
        out.append(
            Proc(
                f"{member}-trainer",
                [
                    binary("trainer", "trainer-controller-manager"),
                    f"--kubeconfig={kc}",
                    f"--config={lay.home / 'run' / f'{member}-trainer' / 'config.yaml'}",
                    "--zap-log-level=info",
                ],
                env={
                    # As for training-operator: controller-runtime's webhook server reads
                    # its certificate from $TMPDIR/k8s-webhook-server/serving-certs.
                    "TMPDIR": str(lay.home / "run" / f"{member}-trainer"),
                },
                health=_http_health(p[f"{member}-trainer-health"], "/readyz"),
            )
        )
    return out


def kube_scheduler_config(lay: Layout, member: str) -> dict:
    """kube-scheduler takes its client's rate limit only from a configuration file (its
    --kube-api-qps flag is ignored once --config is given, and --config is the only way to
    set it); the kubeconfig and leader election then live here too."""
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {
            "kubeconfig": str(lay.kubeconfig(member)),
            "qps": int(API_QPS),
            "burst": int(API_BURST),
        },
        "leaderElection": {"leaderElect": False},
    }


def process_names() -> list[str]:
    """Every name a testbed process may have (what `down` stops), Trainer v2's included."""
    lay = Layout(HOME, DEFAULT_PORT_BASE, DEFAULT_POD_RUN_SECONDS, trainer_v2=True)
    return [p.name for p in processes(lay)]
