"""Every framework end to end on the testbed: REST API → PostgreSQL → Celery worker/beat →
Karmada → member cluster (training-operator or mpi-operator, kwok pods) → status back in
the API.

The seven jobs are submitted together and watched together: the machine has two cores and
a pod "runs" for seconds, so one shared scenario costs about as much as one job would. The
scenario runs once for the module and records what it saw; each framework's test then
checks its own job's record. Pods are recorded while they exist rather than looked up at
the end, because cleanPodPolicy Running deletes the MPI workers the moment their job ends.

What is checked on the member cluster is what the operators really made of the platform's
CR: the pods per replica type, their requests and limits, GPUs, the /opt/ml volume, the
hyperparameters (arguments and HYPERPARAMETERS), and the environment the operator injects
(training-operator v1.9: SetPodEnv/SetClusterSpec per kind; mpi-operator v0.8:
newLauncherPodTemplate/newWorker and the hostfile ConfigMap).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from clusters.client import ClusterError, KarmadaClient, ResourceRef, ref_for

# The tests only read what the module's scenario recorded; the mark makes pytest-django
# create the test database the scenario and the worker write to, and order these tests
# with the other transactional ones, after every test that runs inside a transaction (a
# running worker commits inventory rows those would trip over).
pytestmark = [pytest.mark.e2e, pytest.mark.testbed, pytest.mark.django_db(transaction=True)]

NAMESPACE = "fw-e2e"
CLUSTERS = ("member-cluster-1", "member-cluster-2")
GPU = "nvidia.com/gpu"
FINAL = {"Succeeded", "Failed", "SubmitFailed", "Deleted"}
HISTORY = ["Pending", "Submitted", "Scheduled", "Running", "Succeeded"]
# Seven jobs on two cores: submission, Karmada's scheduling, the operators, kwok's pod
# phases and the status sync all share them.
SCENARIO_TIMEOUT = 240

LABEL_JOB_ID = "mlplatform.io/job-id"
LABEL_REPLICA_TYPE = "training.kubeflow.org/replica-type"
LABEL_REPLICA_INDEX = "training.kubeflow.org/replica-index"
LABEL_JOB_ROLE = "training.kubeflow.org/job-role"


@dataclass(frozen=True)
class Case:
    """One framework's job: the request, and what the member cluster should hold for it."""

    framework: str
    kind: str
    plural: str
    api_version: str
    cpu: float
    memory_gib: float
    gpu: int
    volume_gb: int
    hyperparameters: dict[str, Any]
    target: tuple[str, ...]
    # Expected pods per replica type (MPIJob: per job-role).
    pods: dict[str, int]
    # Kubernetes quantities as the platform should write them.
    cpu_quantity: str
    memory_quantity: str

    @property
    def body(self) -> dict[str, Any]:
        return {
            "jobName": f"fw-{self.framework}",
            "namespace": NAMESPACE,
            "algorithm": {"source": "default", "algorithmName": self.framework},
            "resources": {
                "instanceResources": {
                    "cpuCores": self.cpu,
                    "memoryGiB": self.memory_gib,
                    "gpuCount": self.gpu,
                },
                "instanceCount": 3,
                "volumeSizeGB": self.volume_gb,
            },
            "hyperparameters": {self.framework: self.hyperparameters},
            "targetClusters": list(self.target),
        }

    @property
    def is_mpi(self) -> bool:
        return self.kind == "MPIJob"


# Three instances each. GPU jobs (TensorFlow, PyTorch, DeepSpeed) name member-cluster-1, the
# only one with GPUs; XGBoost and JAX name no cluster (any ready one that fits), LightGBM
# and Horovod name member-cluster-2.
CASES = {
    c.framework: c
    for c in (
        Case(
            "tensorflow", "TFJob", "tfjobs", "kubeflow.org/v1",
            cpu=2, memory_gib=4, gpu=1, volume_gb=10,
            hyperparameters={"epochs": 2, "batch_size": 128, "optimizer": "sgd", "momentum": 0.9},
            target=("member-cluster-1",),
            pods={"chief": 1, "worker": 2},
            cpu_quantity="2", memory_quantity="4Gi",
        ),
        Case(
            "pytorch", "PyTorchJob", "pytorchjobs", "kubeflow.org/v1",
            cpu=2, memory_gib=6, gpu=2, volume_gb=20,
            hyperparameters={"epochs": 3, "backend": "nccl", "amp": True},
            target=("member-cluster-1",),
            pods={"master": 1, "worker": 2},
            cpu_quantity="2", memory_quantity="6Gi",
        ),
        Case(
            "xgboost", "XGBoostJob", "xgboostjobs", "kubeflow.org/v1",
            cpu=1.5, memory_gib=3, gpu=0, volume_gb=5,
            hyperparameters={"num_round": 50, "eta": 0.2, "objective": "binary:logistic"},
            target=(),
            pods={"master": 1, "worker": 2},
            cpu_quantity="1500m", memory_quantity="3Gi",
        ),
        Case(
            "lightgbm", "XGBoostJob", "xgboostjobs", "kubeflow.org/v1",
            cpu=2, memory_gib=2.5, gpu=0, volume_gb=0,
            hyperparameters={"num_iterations": 20, "num_leaves": 15},
            target=("member-cluster-2",),
            pods={"master": 1, "worker": 2},
            cpu_quantity="2", memory_quantity="2560Mi",
        ),
        Case(
            "jax", "JAXJob", "jaxjobs", "kubeflow.org/v1",
            cpu=1, memory_gib=2, gpu=0, volume_gb=0,
            hyperparameters={"epochs": 2, "optimizer": "adamw"},
            target=(),
            pods={"worker": 3},
            cpu_quantity="1", memory_quantity="2Gi",
        ),
        Case(
            "horovod", "MPIJob", "mpijobs", "kubeflow.org/v2beta1",
            cpu=2, memory_gib=4, gpu=0, volume_gb=0,
            hyperparameters={"slots_per_worker": 2, "epochs": 2},
            target=("member-cluster-2",),
            pods={"launcher": 1, "worker": 3},
            cpu_quantity="2", memory_quantity="4Gi",
        ),
        Case(
            "deepspeed", "MPIJob", "mpijobs", "kubeflow.org/v2beta1",
            cpu=2, memory_gib=8, gpu=1, volume_gb=10,
            hyperparameters={"zero_stage": 2, "train_micro_batch_size_per_gpu": 4},
            target=("member-cluster-1",),
            pods={"launcher": 1, "worker": 3},
            cpu_quantity="2", memory_quantity="8Gi",
        ),
    )
}  # fmt: skip


@dataclass
class Run:
    """Everything the scenario saw of one job, for its test to check."""

    case: Case
    job_id: str = ""
    submitted: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    # name -> pod as last seen, and which member it was seen in.
    pods: dict[str, dict] = field(default_factory=dict)
    pod_clusters: dict[str, set[str]] = field(default_factory=dict)
    template: dict | None = None
    binding: dict | None = None
    member_workloads: dict[str, dict | None] = field(default_factory=dict)
    hostfile: str | None = None
    error: str = ""

    @property
    def name(self) -> str:
        return self.submitted.get("kubernetesName", "")

    @property
    def cluster(self) -> str:
        return self.detail.get("cluster", "")


def _api_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def _member_object(karmada: KarmadaClient, cluster: str, path: str) -> dict | None:
    try:
        return karmada.member_get(cluster, path)
    except ClusterError as exc:
        if exc.status == 404:
            return None
        raise


def _record_pods(karmada: KarmadaClient, runs: dict[str, Run]) -> None:
    by_job = {run.job_id: run for run in runs.values()}
    for cluster in CLUSTERS:
        # One LIST per member per tick whatever the number of jobs.
        for pod in karmada.member_pods(cluster, NAMESPACE, LABEL_JOB_ID):
            run = by_job.get(pod["metadata"]["labels"].get(LABEL_JOB_ID, ""))
            if run is None:
                continue
            name = pod["metadata"]["name"]
            run.pods[name] = pod
            run.pod_clusters.setdefault(name, set()).add(cluster)


def _scenario(api, karmada: KarmadaClient) -> dict[str, Run]:
    runs = {name: Run(case) for name, case in CASES.items()}
    for run in runs.values():
        response = api.post("/api/v1/jobs", run.case.body, format="json")
        if response.status_code != 201:
            run.error = f"submission answered {response.status_code}: {response.content!r}"
            continue
        run.submitted = response.json()
        run.job_id = run.submitted["id"]
    live = {run.job_id: run for run in runs.values() if run.job_id}

    # Poll every job and both members together until every job is final: one pass costs
    # a LIST per member and a status GET per job, and pods are caught while they live.
    deadline = time.monotonic() + SCENARIO_TIMEOUT
    pending = set(live)
    while pending and time.monotonic() < deadline:
        _record_pods(karmada, runs)
        for job_id in list(pending):
            status = api.get(f"/api/v1/jobs/{job_id}/status").json()["status"]
            if status in FINAL:
                pending.discard(job_id)
        time.sleep(0.5)
    _record_pods(karmada, runs)
    for job_id in pending:
        live[job_id].error = f"did not finish within {SCENARIO_TIMEOUT}s"

    for run in live.values():
        run.detail = api.get(f"/api/v1/jobs/{run.job_id}").json()
        case = run.case
        group, version = case.api_version.split("/")
        run.template = karmada.get(
            ResourceRef(case.api_version, case.kind, case.plural, NAMESPACE, run.name)
        )
        run.binding = karmada.get(
            ResourceRef(
                "work.karmada.io/v1alpha2",
                "ResourceBinding",
                "resourcebindings",
                NAMESPACE,
                f"{run.name}-{case.kind.lower()}",
            )
        )
        for cluster in CLUSTERS:
            run.member_workloads[cluster] = _member_object(
                karmada,
                cluster,
                f"/apis/{group}/{version}/namespaces/{NAMESPACE}/{case.plural}/{run.name}",
            )
        if case.is_mpi and run.cluster:
            config = _member_object(
                karmada,
                run.cluster,
                f"/api/v1/namespaces/{NAMESPACE}/configmaps/{run.name}-config",
            )
            run.hostfile = ((config or {}).get("data") or {}).get("hostfile")
    return runs


def _write_observations(runs: dict[str, Run]) -> None:
    """With MLPLATFORM_TEST_LOGS set, keep what was seen per framework (pods per replica
    type, resources, env) as JSON beside the worker's log: the evidence a release note cites."""
    logs = os.environ.get("MLPLATFORM_TEST_LOGS")
    if not logs:
        return
    seen: dict[str, Any] = {}
    for framework, run in runs.items():
        pods = {}
        for name, pod in sorted(run.pods.items()):
            container = pod["spec"]["containers"][0]
            pods[name] = {
                "labels": {
                    k: v for k, v in pod["metadata"]["labels"].items() if "kubeflow.org" in k
                },
                "clusters": sorted(run.pod_clusters.get(name, ())),
                "command": container.get("command"),
                "args": container.get("args"),
                "resources": container.get("resources"),
                "volumeMounts": container.get("volumeMounts"),
                "env": _env(container),
            }
        seen[framework] = {
            "kind": run.case.kind,
            "cluster": run.cluster,
            "status": run.detail.get("status"),
            "history": [e["to"] for e in run.detail.get("events", [])],
            "templateConditions": ((run.template or {}).get("status") or {}).get("conditions"),
            "hostfile": run.hostfile,
            "pods": pods,
            "error": run.error,
        }
    path = Path(logs) / "frameworks-e2e.json"
    path.write_text(json.dumps(seen, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def scenario(celery_stack, testbed, django_db_blocker) -> dict[str, Run]:
    """Submit all seven jobs through the API, follow them to the end, record what was seen.

    Module-scoped so the jobs run side by side; the rows are committed (the worker must see
    them) and removed again, with the jobs' objects on Karmada, before any test runs.
    """
    from django.contrib.auth import get_user_model

    from jobs.models import JobEvent, NamespaceGrant, TrainingJob

    platform = override_settings(KARMADA_KUBECONFIG_PATH=str(testbed.karmada_kubeconfig))
    karmada = KarmadaClient(str(testbed.karmada_kubeconfig))
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_user(username="fw-e2e", password="fw-pass-123")
        NamespaceGrant.objects.create(user=user, namespace=NAMESPACE)
    try:
        with django_db_blocker.unblock(), platform:
            started = time.monotonic()
            runs = _scenario(_api_client(user), karmada)
            print(f"\nframework scenario: {time.monotonic() - started:.1f}s for {len(runs)} jobs")
            _write_observations(runs)
    finally:
        # Everything the tests check is recorded in `runs`, so the shared testbed is freed
        # now: the CRs and policies go (Karmada and the member's garbage collector remove
        # the rest), then the rows.
        with django_db_blocker.unblock():
            jobs = list(TrainingJob.objects.filter(owner=user))
            for job in jobs:
                for obj in job.manifests:
                    try:
                        karmada.delete(ref_for(obj))
                    except ClusterError:
                        pass
            JobEvent.objects.filter(job__in=jobs).delete()
            TrainingJob.objects.filter(owner=user).delete()
            user.delete()
    return runs


# --- what is expected on the pods ----------------------------------------------------------


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def _replica_key(case: Case, pod: dict) -> str:
    labels = pod["metadata"]["labels"]
    return labels[LABEL_JOB_ROLE] if case.is_mpi else labels[LABEL_REPLICA_TYPE]


def _index(pod: dict) -> int:
    return int(pod["metadata"]["labels"][LABEL_REPLICA_INDEX])


def _by_replica(run: Run) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for pod in run.pods.values():
        groups.setdefault(_replica_key(run.case, pod), []).append(pod)
    for pods in groups.values():
        if all(LABEL_REPLICA_INDEX in p["metadata"]["labels"] for p in pods):
            pods.sort(key=_index)
    return groups


def _expected_resources(case: Case, *, launcher: bool = False) -> dict[str, dict[str, str]]:
    if launcher:
        # The MPI launcher only runs mpirun: small, and never a GPU.
        cpu, memory, gpu = "500m", "512Mi", 0
    else:
        cpu, memory, gpu = case.cpu_quantity, case.memory_quantity, case.gpu
    limits = {"cpu": cpu, "memory": memory}
    requests = {"cpu": cpu, "memory": memory}
    if gpu:
        # The apiserver defaults an extended resource's request from its limit.
        limits[GPU] = requests[GPU] = str(gpu)
    return {"limits": limits, "requests": requests}


def _check_volume(case: Case, pod: dict, container: dict) -> None:
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
    if not case.volume_gb:
        assert "/opt/ml" not in mounts
        return
    assert mounts.get("/opt/ml") == "ml-storage", mounts
    claim = volumes["ml-storage"]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == f"{case.volume_gb}Gi"


def _check_hyperparameters(run: Run, container: dict, *, args: bool = True) -> None:
    values = run.detail["hyperparameters"][run.case.framework]
    for name, value in run.case.hyperparameters.items():
        assert values[name] == value, (name, values)
    assert json.loads(_env(container)["HYPERPARAMETERS"]) == values
    if args:
        rendered = [
            f"--{k}={json.dumps(v) if isinstance(v, bool) else v}"
            for k, v in sorted(values.items())
        ]
        got = container["args"]
        if run.case.framework == "lightgbm":
            # The built-in LightGBM image trains only when told so.
            assert got[0] == "--job_type=Train"
            got = got[1:]
        assert got == rendered


def _check_training_env(run: Run, groups: dict[str, list[dict]]) -> None:
    """The variables the training-operator injects, per kind."""
    name, fw = run.name, run.case.framework
    ordered = [
        (rtype, pod) for rtype in ("chief", "master", "worker") for pod in groups.get(rtype, [])
    ]
    for position, (rtype, pod) in enumerate(ordered):
        env = _env(pod["spec"]["containers"][0])
        index = _index(pod)
        if fw == "pytorch":
            assert env["MASTER_ADDR"] == f"{name}-master-0"
            assert env["MASTER_PORT"] == "23456"
            assert env["WORLD_SIZE"] == "3"
            assert env["RANK"] == str(index + (1 if rtype == "worker" else 0))
            assert env["PET_NNODES"] == "3"
        elif fw == "tensorflow":
            config = json.loads(env["TF_CONFIG"])
            assert config["task"] == {"type": rtype, "index": index}
            cluster = config["cluster"]
            assert sorted(cluster) == ["chief", "worker"]
            assert cluster["chief"] == [f"{name}-chief-0.{NAMESPACE}.svc:2222"]
            assert cluster["worker"] == [
                f"{name}-worker-{i}.{NAMESPACE}.svc:2222" for i in range(2)
            ]
        elif fw in ("xgboost", "lightgbm"):
            assert env["MASTER_ADDR"] == f"{name}-master-0"
            assert env["MASTER_PORT"] == "9999"
            assert env["WORLD_SIZE"] == "3"
            assert env["RANK"] == str(position)
            assert env["WORKER_ADDRS"] == f"{name}-worker-0,{name}-worker-1"
            assert env["WORKER_PORT"] == "9999"
        elif fw == "jax":
            assert env["COORDINATOR_ADDRESS"] == f"{name}-worker-0"
            assert env["COORDINATOR_PORT"] == "6666"
            assert env["NUM_PROCESSES"] == "3"
            assert env["PROCESS_ID"] == str(index)


def _check_mpi(run: Run, groups: dict[str, list[dict]]) -> None:
    """mpi-operator v0.8, OpenMPI: the launcher gets the OMPI_* variables and the hostfile
    mounted at /etc/mpi; workers run sshd; both get the SSH key."""
    case, name = run.case, run.name
    slots = run.case.hyperparameters.get("slots_per_worker") or max(1, case.gpu)
    (launcher,) = groups["launcher"]
    container = launcher["spec"]["containers"][0]
    env = _env(container)
    assert env["K_MPI_JOB_ROLE"] == "launcher"
    assert env["OMPI_MCA_orte_default_hostfile"] == "/etc/mpi/hostfile"
    assert env["OMPI_MCA_orte_keep_fqdn_hostnames"] == "true"
    assert env["OMPI_MCA_orte_set_default_slots"] == str(slots)
    assert "OMPI_MCA_plm_rsh_args" in env
    # The operator hides GPUs from the launcher.
    assert "NVIDIA_VISIBLE_DEVICES" in env and not env["NVIDIA_VISIBLE_DEVICES"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/etc/mpi"] == "mpi-job-config"
    assert mounts["/root/.ssh"] == "ssh-auth"
    volumes = {v["name"]: v for v in launcher["spec"]["volumes"]}
    assert volumes["mpi-job-config"]["configMap"]["name"] == f"{name}-config"
    assert container["command"][:3] == ["mpirun", "-np", str(3 * slots)]
    assert container["resources"] == _expected_resources(case, launcher=True)
    _check_hyperparameters(run, container)
    assert run.hostfile is not None
    assert run.hostfile.splitlines() == [
        f"{name}-worker-{i}.{name}.{NAMESPACE}.svc slots={slots}" for i in range(3)
    ]
    for index, worker in enumerate(groups["worker"]):
        assert _index(worker) == index
        container = worker["spec"]["containers"][0]
        assert container["command"] == ["/usr/sbin/sshd", "-De"]
        assert not container.get("args")
        assert _env(container)["K_MPI_JOB_ROLE"] == "worker"
        assert container["resources"] == _expected_resources(case)
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/root/.ssh"}
        _check_volume(case, worker, container)
        _check_hyperparameters(run, container, args=False)


def _check_placement(run: Run) -> None:
    case = run.case
    assert run.cluster in (case.target or CLUSTERS), run.cluster
    if case.gpu:
        assert run.cluster == "member-cluster-1"
    assert run.binding is not None
    assert [c["name"] for c in run.binding["spec"]["clusters"]] == [run.cluster]
    # Whole in one member: the CR and every pod are there, none anywhere else.
    for cluster, workload in run.member_workloads.items():
        assert (workload is not None) == (cluster == run.cluster), (cluster, workload)
    assert {c for seen in run.pod_clusters.values() for c in seen} == {run.cluster}


@pytest.mark.parametrize("framework", list(CASES))
def test_framework_runs_on_the_member_cluster_and_succeeds(scenario, framework):
    run = scenario[framework]
    case = run.case
    assert not run.error, run.error

    assert run.detail["status"] == "Succeeded", (run.detail["status"], run.detail["statusMessage"])
    assert [e["to"] for e in run.detail["events"]] == HISTORY
    _check_placement(run)

    workload = run.member_workloads[run.cluster]
    assert workload["kind"] == case.kind and workload["apiVersion"] == case.api_version

    # Status reaches the platform through Karmada's aggregation into the template: the
    # built-in interpreters for TFJob/PyTorchJob/MPIJob, the platform's own for
    # XGBoostJob (XGBoost, LightGBM) and JAXJob.
    conditions = {c["type"]: c["status"] for c in run.template["status"]["conditions"]}
    assert conditions.get("Succeeded") == "True", conditions

    groups = _by_replica(run)
    assert {k: len(v) for k, v in groups.items()} == case.pods

    if case.is_mpi:
        _check_mpi(run, groups)
        return
    for pods in groups.values():
        assert [_index(p) for p in pods] == list(range(len(pods)))
        for pod in pods:
            (container,) = pod["spec"]["containers"]
            assert container["resources"] == _expected_resources(case)
            _check_volume(case, pod, container)
            _check_hyperparameters(run, container)
    _check_training_env(run, groups)


@pytest.mark.parametrize("framework", list(CASES))
def test_framework_pods_are_hardened_on_the_member(scenario, framework):
    """What the operators made of the platform's pod templates, as the member holds them:
    no service-account token, RuntimeDefault seccomp, no privilege escalation; the
    training-operator kinds also non-root without capabilities (MPI keeps root for sshd),
    all admitted under the namespace's Pod Security level (baseline by default)."""
    run = scenario[framework]
    assert run.pods, run.error
    for name, pod in run.pods.items():
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        container = spec["containers"][0]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        if run.case.is_mpi:
            assert "runAsNonRoot" not in spec["securityContext"], name
        else:
            assert spec["securityContext"]["runAsNonRoot"] is True, name
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
