"""TRAINING_BACKEND=v2 end to end on the testbed: REST API → PostgreSQL → Celery worker/beat →
Karmada (the platform's TrainJob interpreter) → member cluster (Kubeflow Trainer v2 →
JobSet → batch Jobs → kwok pods) → status back in the API.

Every framework's job is submitted from the same request body as under v1, all together,
and watched together (two cores; a pod "runs" for seconds). The scenario runs once for the
module and records what it saw; each test checks its part of the record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import override_settings

from clusters.client import ClusterError, KarmadaClient, ResourceRef, ref_for
from jobs.tests.test_frameworks_e2e import _member_object
from mlplatform.testing import token_client
from testbed.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.testbed, pytest.mark.django_db(transaction=True)]

NAMESPACE = "trainer-e2e"
CLUSTERS = ("member-cluster-1", "member-cluster-2")
FINAL = {"Succeeded", "Failed", "SubmitFailed", "Deleted"}
HISTORY = ["Pending", "Submitted", "Scheduled", "Running", "Succeeded"]
SCENARIO_TIMEOUT = 300
FAIL_LABEL = {"testbed.mlplatform.io/outcome": "fail"}

LABEL_JOB_ID = "mlplatform.io/job-id"
LABEL_JOBSET = "jobset.sigs.k8s.io/jobset-name"
LABEL_RJOB = "jobset.sigs.k8s.io/replicatedjob-name"
TRAINJOB = ResourceRef("trainer.kubeflow.org/v1alpha1", "TrainJob", "trainjobs", NAMESPACE, "")

# The runtime each framework's TrainJob names: Trainer's own, or the platform's (k8s/trainer/).
RUNTIMES = {
    "pytorch": "torch-distributed",
    "deepspeed": "deepspeed-distributed",
    "jax": "jax-distributed",
    "xgboost": "xgboost-distributed",
    "horovod": "mlplatform-horovod",
    "tensorflow": "mlplatform-tensorflow",
    "lightgbm": "mlplatform-lightgbm",
}
# GPU jobs name member-cluster-1 (the only one with GPUs), some name member-cluster-2,
# the rest any cluster that fits.
TARGETS = {
    "pytorch": ("member-cluster-1",),
    "deepspeed": ("member-cluster-1",),
    "tensorflow": ("member-cluster-1",),
    "horovod": ("member-cluster-2",),
    "lightgbm": ("member-cluster-2",),
    "xgboost": (),
    "jax": (),
}
GPUS = {"pytorch": 1, "deepspeed": 1, "tensorflow": 1}


def _body(framework: str, *, name: str = "", labels: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobName": name or f"v2-{framework}",
        "namespace": NAMESPACE,
        "algorithm": {"source": "default", "algorithmName": framework},
        "resources": {
            "instanceResources": {
                "cpuCores": 1,
                "memoryGiB": 2,
                "gpuCount": GPUS.get(framework, 0),
            },
            "instanceCount": 2,
            "volumeSizeGB": 5 if framework in ("pytorch", "xgboost") else 0,
        },
        "hyperparameters": {framework: {}},
        "targetClusters": list(TARGETS[framework]),
    }
    if framework == "xgboost":
        body["hyperparameters"]["xgboost"] = {"num_round": 10}
    if labels:
        body["labels"] = labels
    return body


@dataclass
class Run:
    framework: str
    body: dict[str, Any]
    job_id: str = ""
    submitted: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    pods: dict[str, dict] = field(default_factory=dict)
    jobsets: dict[str, dict] = field(default_factory=dict)
    template: dict | None = None
    # From the database, read before the next test's flush: what was sent, and how.
    backend: str = ""
    manifests: list[dict] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    # The delete, for the job that is deleted: what was left of it afterwards, per place.
    left_after_delete: dict[str, bool] = field(default_factory=dict)
    error: str = ""

    @property
    def name(self) -> str:
        return self.submitted.get("kubernetesName", "")


def _record(karmada: KarmadaClient, runs: dict[str, Run]) -> None:
    """Pods and JobSets while they exist: one LIST of each per member per tick."""
    by_job = {run.job_id: run for run in runs.values() if run.job_id}
    by_name = {run.name: run for run in runs.values() if run.name}
    for cluster in CLUSTERS:
        for pod in karmada.member_pods(cluster, NAMESPACE, LABEL_JOB_ID):
            run = by_job.get(pod["metadata"]["labels"].get(LABEL_JOB_ID, ""))
            if run is not None:
                run.pods[pod["metadata"]["name"]] = pod
        listing = _member_object(
            karmada, cluster, f"/apis/jobset.x-k8s.io/v1alpha2/namespaces/{NAMESPACE}/jobsets"
        )
        for jobset in (listing or {}).get("items") or []:
            run = by_name.get(jobset["metadata"]["name"])
            if run is not None:
                run.jobsets[cluster] = jobset


def _scenario(api, karmada: KarmadaClient, runs: dict[str, Run]) -> None:
    from jobs.models import JobEvent, TrainingJob

    for run in runs.values():
        response = api.post("/api/v1/jobs", run.body, format="json")
        if response.status_code != 201:
            run.error = f"submission answered {response.status_code}: {response.content!r}"
            continue
        run.submitted = response.json()
        run.job_id = run.submitted["id"]
    pending = {run.job_id for run in runs.values() if run.job_id}
    deadline = time.monotonic() + SCENARIO_TIMEOUT
    while pending and time.monotonic() < deadline:
        _record(karmada, runs)
        for job_id in list(pending):
            if api.get(f"/api/v1/jobs/{job_id}/status").json()["status"] in FINAL:
                pending.discard(job_id)
        time.sleep(0.5)
    _record(karmada, runs)
    for run in runs.values():
        if not run.job_id:
            continue
        if run.job_id in pending:
            run.error = f"did not finish within {SCENARIO_TIMEOUT}s"
        run.detail = api.get(f"/api/v1/jobs/{run.job_id}").json()
        run.template = karmada.get(
            ResourceRef(TRAINJOB.api_version, TRAINJOB.kind, TRAINJOB.plural, NAMESPACE, run.name)
        )
        job = TrainingJob.objects.get(id=run.job_id)
        run.backend, run.manifests = job.backend, job.manifests
        run.events = [
            (e.to_status, e.reason, e.message)
            for e in JobEvent.objects.filter(job_id=run.job_id).order_by("created_at", "id")
        ]
    _delete(api, karmada, runs["xgboost"])


def _delete(api, karmada: KarmadaClient, run: Run) -> None:
    """Delete one finished job through the API and record what is left of it where."""
    if run.detail.get("status") != "Succeeded":
        return
    cluster = run.detail["cluster"]
    assert api.delete(f"/api/v1/jobs/{run.job_id}").status_code == 202
    wait_for(
        lambda: api.get(f"/api/v1/jobs/{run.job_id}/status").json()["status"] == "Deleted",
        timeout=60,
        message="job Deleted",
    )
    base = f"/namespaces/{NAMESPACE}"
    paths = {
        "member TrainJob": f"/apis/trainer.kubeflow.org/v1alpha1{base}/trainjobs/{run.name}",
        "member JobSet": f"/apis/jobset.x-k8s.io/v1alpha2{base}/jobsets/{run.name}",
    }
    run.left_after_delete["karmada TrainJob"] = (
        karmada.get(
            ResourceRef(TRAINJOB.api_version, TRAINJOB.kind, TRAINJOB.plural, NAMESPACE, run.name)
        )
        is not None
    )
    try:
        wait_for(
            lambda: all(_member_object(karmada, cluster, p) is None for p in paths.values()),
            timeout=60,
            message=f"TrainJob and JobSet {run.name} removed from {cluster}",
        )
    except TimeoutError:
        pass
    for what, path in paths.items():
        run.left_after_delete[what] = _member_object(karmada, cluster, path) is not None


@pytest.fixture(scope="module")
def v2_user(celery_stack, django_db_blocker):
    from django.contrib.auth import get_user_model

    from jobs.models import NamespaceGrant

    with django_db_blocker.unblock():
        user = get_user_model().objects.create_user(username="v2-e2e", password="v2-pass-123")
        NamespaceGrant.objects.create(user=user, namespace=NAMESPACE)
    yield user
    with django_db_blocker.unblock():
        from jobs.models import JobEvent, TrainingJob

        jobs = list(TrainingJob.objects.filter(owner=user))
        JobEvent.objects.filter(job__in=jobs).delete()
        TrainingJob.objects.filter(owner=user).delete()
        user.delete()


@pytest.fixture(scope="module")
def scenario(v2_user, trainer_v2, django_db_blocker) -> dict[str, Run]:
    """Every framework under TRAINING_BACKEND=v2, plus one job meant to fail."""
    from jobs.models import TrainingJob

    testbed = trainer_v2
    karmada = KarmadaClient(str(testbed.karmada_kubeconfig))
    runs = {fw: Run(fw, _body(fw)) for fw in RUNTIMES}
    # On the platform's TensorFlow runtime: a failed pod fails the job at once (Trainer's
    # own runtimes keep Kubernetes' default of 6 retries with backoff).
    runs["failing"] = Run("tensorflow", _body("tensorflow", name="v2-fails", labels=FAIL_LABEL))
    platform = override_settings(
        KARMADA_KUBECONFIG_PATH=str(testbed.karmada_kubeconfig), TRAINING_BACKEND="v2"
    )
    try:
        with django_db_blocker.unblock(), platform:
            started = time.monotonic()
            _scenario(token_client(v2_user), karmada, runs)
            print(f"\nTrainer v2 scenario: {time.monotonic() - started:.1f}s for {len(runs)} jobs")
    finally:
        with django_db_blocker.unblock():
            # Everything the tests check is recorded: free the shared testbed now.
            for job in TrainingJob.objects.filter(owner=v2_user):
                for obj in job.manifests:
                    try:
                        karmada.delete(ref_for(obj))
                    except ClusterError:
                        pass
    return runs


@pytest.mark.parametrize("framework", sorted(RUNTIMES))
def test_every_framework_succeeds_as_a_trainjob_through_karmada(scenario, framework):
    run = scenario[framework]
    assert not run.error, run.error
    detail = run.detail
    assert detail["status"] == "Succeeded", (detail["status"], detail.get("statusMessage"))
    history = [e["to"] for e in detail["events"]]
    assert history == HISTORY, history
    if TARGETS[framework]:
        assert detail["cluster"] in TARGETS[framework]
    # What was sent (and what the manifests page shows): a TrainJob on the runtime.
    assert run.backend == "v2"
    workload = run.manifests[0]
    assert workload["kind"] == "TrainJob"
    assert workload["spec"]["runtimeRef"]["name"] == RUNTIMES[framework]
    assert workload["spec"]["trainer"]["numNodes"] == 2
    # Karmada aggregated the member's status into the template through our interpreter.
    conditions = {
        c["type"]: c for c in (run.template or {}).get("status", {}).get("conditions", [])
    }
    assert conditions.get("Complete", {}).get("status") == "True", run.template
    # Trainer made a JobSet in the chosen member, and its pods carry the platform's labels.
    assert set(run.jobsets) == {detail["cluster"]}, run.jobsets.keys()
    nodes = [p for p in run.pods.values() if p["metadata"]["labels"].get(LABEL_RJOB) == "node"]
    assert nodes, sorted(run.pods)
    for pod in run.pods.values():
        labels = pod["metadata"]["labels"]
        assert labels[LABEL_JOBSET] == run.name
        assert labels["mlplatform.io/framework"] == framework
        assert pod["spec"]["nodeName"].startswith(detail["cluster"])
    container = next(c for c in nodes[0]["spec"]["containers"] if c["name"] == "node")
    if framework in ("horovod", "deepspeed"):
        launchers = [
            p for p in run.pods.values() if p["metadata"]["labels"].get(LABEL_RJOB) == "launcher"
        ]
        assert launchers, sorted(run.pods)
        # The TrainJob's command (mpirun) and environment go to the launcher.
        launcher = next(c for c in launchers[0]["spec"]["containers"] if c["name"] == "node")
        assert launcher["command"][:2] == ["mpirun", "-np"]
        env = {e["name"]: e.get("value") for e in launcher.get("env") or []}
        assert env["MLPLATFORM_JOB_ID"] == run.job_id
    else:
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        assert env["MLPLATFORM_JOB_ID"] == run.job_id
        # Two instances: two node pods with the requested resources.
        assert len(nodes) == 2, sorted(run.pods)
        limits = container["resources"]["limits"]
        assert limits["cpu"] == "1" and limits["memory"] == "2Gi"
        if GPUS.get(framework):
            assert limits["nvidia.com/gpu"] == "1"


def test_a_failing_trainjob_ends_failed_with_the_reason(scenario):
    run = scenario["failing"]
    assert not run.error, run.error
    detail = run.detail
    assert detail["status"] == "Failed", detail["status"]
    # Trainer's Failed condition (from JobSet's), as the template carries it.
    conditions = {
        c["type"]: c for c in (run.template or {}).get("status", {}).get("conditions", [])
    }
    failed = conditions["Failed"]
    assert detail["statusReason"] == failed["reason"] and detail["statusReason"]
    # The member's message, as the binding reports it or as the template aggregates it
    # ("<cluster>: <message>"), whichever the sync read first.
    assert detail["statusMessage"] and failed["message"].endswith(detail["statusMessage"])
    assert failed["message"].startswith(f"{detail['cluster']}: ")
    assert [e for e in run.events if e[0] == "Failed"] == [
        ("Failed", detail["statusReason"], detail["statusMessage"])
    ]


def test_deleting_a_trainjob_removes_it_and_its_jobset_everywhere(scenario):
    run = scenario["xgboost"]
    assert run.detail.get("status") == "Succeeded", run.detail.get("status")
    assert run.left_after_delete == {
        "karmada TrainJob": False,
        "member TrainJob": False,
        "member JobSet": False,
    }
