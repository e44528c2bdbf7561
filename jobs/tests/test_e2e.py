"""End to end on the real testbed: REST API → PostgreSQL → Celery worker/beat → Karmada →
member cluster (training-operator, kwok pods) → status back into the API and the pages."""

from __future__ import annotations

import copy

import pytest
from django.test import Client

from clusters.client import ResourceRef
from clusters.karmada import POLICY_PERMANENT_ID_LABEL
from jobs.models import JobEvent, TrainingJob
from jobs.tests.contract import readme_example
from testbed.polling import wait_for

README_XGBOOST = readme_example()

pytestmark = [pytest.mark.e2e, pytest.mark.testbed]

FAIL_LABEL = {"testbed.mlplatform.io/outcome": "fail"}


@pytest.fixture
def api(engineer, celery_stack):
    """The engineer's API client; every job it leaves behind is deleted through the API
    afterwards, so the shared testbed does not fill up with finished jobs."""
    from mlplatform.testing import delete_jobs_left, token_client

    client = token_client(engineer)
    yield client
    delete_jobs_left(lambda _job: client)


@pytest.fixture
def stack(celery_stack, karmada):
    """Worker + beat running against the testbed; returns the Karmada client."""
    return karmada


def _submit(api, body) -> dict:
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _status(api, job_id) -> str:
    response = api.get(f"/api/v1/jobs/{job_id}/status")
    assert response.status_code == 200, response.content
    return response.json()["status"]


def _history(job_id) -> list[str]:
    return list(JobEvent.objects.filter(job_id=job_id).values_list("to_status", flat=True))


def _refs(job: TrainingJob) -> tuple[ResourceRef, ResourceRef]:
    from clusters.client import ref_for

    return ref_for(job.manifests[0]), ref_for(job.manifests[1])


def _member_pods(karmada, cluster, job):
    return karmada.member_pods(
        cluster, job.namespace, f"training.kubeflow.org/job-name={job.k8s_name}"
    )


def _wait_final(api, job_id, timeout=90) -> str:
    return wait_for(
        lambda: (s := _status(api, job_id)) in {"Succeeded", "Failed", "SubmitFailed"} and s,
        timeout=timeout,
        message=f"job {job_id} to finish",
    )


def test_readme_xgboost_example_runs_to_success_and_deletes(api, stack, engineer):
    karmada = stack
    job_id = _submit(api, README_XGBOOST)["id"]
    job = TrainingJob.objects.get(id=job_id)
    workload_ref, policy_ref = _refs(job)

    wait_for(lambda: karmada.get(policy_ref), timeout=30, message="PropagationPolicy on Karmada")
    wait_for(lambda: karmada.get(workload_ref), timeout=30, message="XGBoostJob on Karmada")
    binding_ref = ResourceRef(
        "work.karmada.io/v1alpha2",
        "ResourceBinding",
        "resourcebindings",
        job.namespace,
        f"{job.k8s_name}-xgboostjob",
    )
    binding = wait_for(
        lambda: (b := karmada.get(binding_ref)) and (b.get("spec", {}).get("clusters") or []) and b,
        timeout=30,
        message="ResourceBinding scheduled",
    )
    assert [c["name"] for c in binding["spec"]["clusters"]] == ["member-cluster-1"]
    # Created claimed for its policy: Karmada bound it without writing the template first
    # (the only write to its metadata is the platform's create).
    template = karmada.get(workload_ref)["metadata"]
    policy_id = karmada.get(policy_ref)["metadata"]["labels"][POLICY_PERMANENT_ID_LABEL]
    assert template["labels"][POLICY_PERMANENT_ID_LABEL] == policy_id
    writes = [m for m in template["managedFields"] if not m.get("subresource")]
    assert len(writes) == 1, writes

    member_job = wait_for(
        lambda: _member_get(karmada, "member-cluster-1", job),
        timeout=30,
        message="XGBoostJob in member-cluster-1",
    )
    assert member_job["kind"] == "XGBoostJob"
    pods = wait_for(
        lambda: _member_pods(karmada, "member-cluster-1", job),
        timeout=30,
        message="pods created by the training-operator",
    )
    assert {p["metadata"]["labels"]["training.kubeflow.org/replica-type"] for p in pods} == {
        "master"
    }

    assert _wait_final(api, job_id, timeout=60) == "Succeeded"
    history = _history(job_id)
    assert history == ["Pending", "Submitted", "Scheduled", "Running", "Succeeded"], history
    job.refresh_from_db()
    assert job.cluster == "member-cluster-1"
    assert job.started_at and job.finished_at

    page = Client()
    page.force_login(engineer)
    listing = page.get("/")
    assert listing.status_code == 200
    assert b"xgboost-training" in listing.content and b"Succeeded" in listing.content

    assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 202
    wait_for(lambda: _status(api, job_id) == "Deleted", timeout=60, message="job Deleted")
    assert karmada.get(workload_ref) is None and karmada.get(policy_ref) is None
    wait_for(
        lambda: _member_get(karmada, "member-cluster-1", job) is None,
        timeout=60,
        message="XGBoostJob removed from member-cluster-1",
    )


def test_failing_job_ends_failed_with_the_operators_reason(api, stack):
    body = copy.deepcopy(README_XGBOOST)
    body["jobName"] = "xgboost-fails"
    body["labels"] = FAIL_LABEL
    job_id = _submit(api, body)["id"]
    assert _wait_final(api, job_id) == "Failed"
    job = TrainingJob.objects.get(id=job_id)
    assert job.status_reason.endswith("Failed"), job.status_reason
    assert JobEvent.objects.filter(job_id=job_id, to_status="Failed").exists()


def test_pytorch_three_instances_makes_a_master_and_two_workers(api, stack):
    karmada = stack
    body = {
        "jobName": "pytorch-three",
        "namespace": "default",
        "algorithm": {"source": "default", "algorithmName": "pytorch"},
        "resources": {
            "instanceResources": {"cpuCores": 2, "memoryGiB": 4, "gpuCount": 0},
            "instanceCount": 3,
            "volumeSizeGB": 0,
        },
        "hyperparameters": {"pytorch": {}},
        "targetClusters": ["member-cluster-2"],
    }
    job_id = _submit(api, body)["id"]
    job = TrainingJob.objects.get(id=job_id)
    pods = wait_for(
        lambda: len(p := _member_pods(karmada, "member-cluster-2", job)) == 3 and p,
        timeout=60,
        message="3 PyTorchJob pods in member-cluster-2",
    )
    types = sorted(p["metadata"]["labels"]["training.kubeflow.org/replica-type"] for p in pods)
    assert types == ["master", "worker", "worker"]
    assert _wait_final(api, job_id) == "Succeeded"


def _member_get(karmada, cluster, job):
    """The job's workload as the member cluster has it (through Karmada's proxy), or None."""
    from clusters.client import ClusterError, ref_for

    ref = ref_for(job.manifests[0])
    try:
        return karmada.member_get(
            cluster, f"/apis/{ref.api_version}/namespaces/{ref.namespace}/{ref.plural}/{ref.name}"
        )
    except ClusterError as exc:
        if exc.status == 404:
            return None
        raise


def test_a_job_whose_submit_message_was_lost_still_reaches_karmada(
    api, stack, engineer, monkeypatch
):
    """Nothing accepted is lost: with the broker message dropped (a fault the real parts do
    not produce on demand), beat's sweep finds the job still Pending and submits it."""
    from jobs import services

    monkeypatch.setattr(services, "_enqueue_submit", lambda job_id, token: None)
    job_id = _submit(api, readme_example(jobName="lost-message"))["id"]
    monkeypatch.undo()
    assert _status(api, job_id) == "Pending"
    wait_for(
        lambda: _status(api, job_id) not in {"Pending"},
        timeout=90,
        message="the pending sweep to submit the job",
    )
    assert _wait_final(api, job_id) == "Succeeded"
