"""Job insight on the real testbed: every wait and failure produced on demand by Karmada,
the members' kube-scheduler, training-operator and the testbed's kwok stages (labels
``testbed.mlplatform.io/outcome``, ``testbed.mlplatform.io/run-duration``), read back
through the API and the pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from clusters.models import MemberCluster
from jobs.models import NamespaceGrant
from mlplatform.testing import delete_jobs_left, token_client
from testbed.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.testbed]

OUTCOME = "testbed.mlplatform.io/outcome"
RUN_DURATION = "testbed.mlplatform.io/run-duration"
GPU_CLUSTER, CPU_CLUSTER = "member-cluster-1", "member-cluster-2"


@pytest.fixture
def api(engineer, celery_stack, karmada):
    client = token_client(engineer)
    yield client
    delete_jobs_left(lambda _job: client)


@pytest.fixture
def outsider(transactional_db, django_user_model):
    user = django_user_model.objects.create_user(username="charlie", password="charlie-pass-1")
    NamespaceGrant.objects.create(user=user, namespace="team-c")
    return user


def _body(
    name: str,
    framework: str,
    cluster: str,
    *,
    instances: int = 1,
    gpus: int = 0,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "jobName": name,
        "namespace": "default",
        "algorithm": {"source": "default", "algorithmName": framework},
        "resources": {
            "instanceResources": {"cpuCores": 1, "memoryGiB": 2, "gpuCount": gpus},
            "instanceCount": instances,
            "volumeSizeGB": 0,
        },
        "hyperparameters": {framework: {"num_round": 10} if framework == "xgboost" else {}},
        "targetClusters": [cluster],
        "labels": labels or {},
    }


def _submit(api, body: dict) -> str:
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _submit_past_node_check(api, body: dict, cluster: str) -> str:
    """Submit a job larger than any node of ``cluster``, as when the platform has not yet
    read the member's nodes (their shapes unknown): Karmada's whole-cluster view places it
    and the member's kube-scheduler is left to refuse its pods. The inventory pass may
    restore the shapes between the two statements; then try again."""
    for _ in range(5):
        MemberCluster.objects.filter(name=cluster).update(node_shapes=None)
        response = api.post("/api/v1/jobs", body, format="json")
        if response.status_code == 201:
            return response.json()["id"]
    raise AssertionError(f"the platform kept refusing the job: {response.content!r}")


def _job(api, job_id: str) -> dict:
    response = api.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()


def _failed(api, job_id: str, *, want_class: str) -> dict:
    def done() -> dict | None:
        job = _job(api, job_id)
        return job if job["status"] == "Failed" and job["failureClass"] == want_class else None

    return wait_for(done, timeout=120, message=f"job {job_id} Failed with {want_class}")


# The replicas of the two-instance PyTorch job that the testbed kills for memory: all of them.
OOM_KILLED = ("master", "worker")


def test_it_says_which_replica_failed_and_how(api, engineer, outsider):
    oom = _submit(
        api, _body("ins-oom", "pytorch", CPU_CLUSTER, instances=2, labels={OUTCOME: "oom"})
    )
    code = _submit(api, _body("ins-exit", "xgboost", CPU_CLUSTER, labels={OUTCOME: "fail"}))
    evicted = _submit(api, _body("ins-evict", "xgboost", CPU_CLUSTER, labels={OUTCOME: "evict"}))
    fine = _submit(api, _body("ins-fine", "xgboost", CPU_CLUSTER))

    _failed(api, oom, want_class="OutOfMemory")
    # The table settles: a replica read while it still ran is read again until it is gone.
    job = wait_for(
        lambda: (
            (j := _job(api, oom))
            and not any(
                p["phase"] in ("Pending", "Running") for g in j["replicas"] for p in g["pods"]
            )
            and j
        ),
        timeout=60,
        message="the OOM job's replica table to settle",
    )
    # Both replicas are killed for memory: the summary names whichever ended first (a tie
    # within the second names the master), and the pages say the same.
    oom_summary = job["failureSummary"]
    assert oom_summary in {f"{rtype}-0 exited with code 137 (OOMKilled)" for rtype in OOM_KILLED}
    assert job["waitingReason"] is None and job["waiting"] is None
    groups = {g["type"]: g for g in job["replicas"]}
    # The replica that ended first failed for memory. The job fails with it; if the other
    # one still ran then, training-operator removed it (cleanPodPolicy Running), or it was
    # never read at all.
    first = oom_summary.split("-0 ", 1)[0]
    assert set(groups) <= set(OOM_KILLED) and first in groups, groups
    killed = groups[first]
    assert (killed["total"], killed["failed"]) == (1, 1)
    for rtype in set(groups) - {first}:
        assert [p["phase"] for p in groups[rtype]["pods"]] in (["Failed"], ["Removed"])
    row = killed["pods"][0]
    assert (row["phase"], row["exitCode"], row["reason"], row["index"]) == (
        "Failed",
        137,
        "OOMKilled",
        0,
    )
    assert row["node"] and row["startedAt"] and row["finishedAt"]
    assert job["replicasReadAt"]
    assert job["queuedSeconds"] is not None and job["queuedSeconds"] >= 0
    assert job["runningSeconds"] is not None and job["runningSeconds"] >= 0
    assert job["totalSeconds"] >= job["queuedSeconds"]

    job = _failed(api, code, want_class="ExitCode")
    assert job["failureSummary"] == "master-0 exited with code 1 (Error)"
    assert job["replicas"][0]["pods"][0]["message"].startswith("failed on purpose")

    job = _failed(api, evicted, want_class="Evicted")
    assert job["failureSummary"].startswith("master-0 was evicted from ")
    assert "The node was low on resource: memory." in job["failureSummary"]
    assert job["replicas"][0]["pods"][0]["reason"] == "Evicted"

    wait_for(lambda: _job(api, fine)["status"] == "Succeeded", timeout=90, message="the plain job")
    done = wait_for(
        lambda: (j := _job(api, fine))["replicas"] and j, timeout=30, message="its replicas"
    )
    assert done["failureClass"] is None and done["failureSummary"] is None
    assert done["replicas"][0]["pods"][0]["reason"] == "Completed"

    # The failure class is a list filter, in the API and on the page.
    listed = api.get("/api/v1/jobs?failureClass=OutOfMemory,Evicted").json()["results"]
    assert {j["id"] for j in listed} == {oom, evicted}
    bad = api.get("/api/v1/jobs?failureClass=Tired")
    assert bad.status_code == 400 and "failureClass" in bad.json()["error"]["fields"]
    page = Client()
    page.force_login(engineer)
    body = page.get(reverse("jobs:list") + "?failure_class=OutOfMemory").content.decode()
    assert "ins-oom" in body and "ins-evict" not in body and "ins-fine" not in body
    assert oom_summary in body

    # The detail page: the failure in one line, the replica table, the durations.
    detail = page.get(reverse("jobs:detail", args=[oom])).content.decode()
    assert 'data-failure-class="OutOfMemory"' in detail
    assert oom_summary in detail
    assert 'class="table table-compact replicas-table"' in detail and "OOMKilled" in detail
    assert "Queued" in detail and "Running" in detail and "Total" in detail

    # Events: Karmada's and the member's, oldest first.
    events = api.get(f"/api/v1/jobs/{oom}/events")
    assert events.status_code == 200, events.content
    found = events.json()
    assert found["cluster"] == CPU_CLUSTER and found["unavailable"] == {}
    sources = {e["source"] for e in found["events"]}
    assert {"karmada", CPU_CLUSTER} <= sources, found
    times = [parse_datetime(e["time"]) for e in found["events"]]
    assert times == sorted(times)
    member = [e for e in found["events"] if e["source"] == CPU_CLUSTER]
    assert any(e["reason"] == "Scheduled" and e["objectKind"] == "Pod" for e in member), member
    fragment = page.get(reverse("jobs:events", args=[oom]), HTTP_HX_REQUEST="true")
    assert fragment.status_code == 286  # final: no more polling
    assert "events-table" in fragment.content.decode()

    stranger = token_client(outsider)
    assert stranger.get(f"/api/v1/jobs/{oom}/events").status_code == 404
    other = Client()
    other.force_login(outsider)
    assert other.get(reverse("jobs:events", args=[oom])).status_code == 404
    assert stranger.get("/api/v1/jobs?failureClass=OutOfMemory").json()["results"] == []


def test_it_says_why_a_placed_job_waits_in_its_member(api, engineer):
    image = _submit(api, _body("ins-image", "xgboost", CPU_CLUSTER, labels={OUTCOME: "image-pull"}))
    # 5 GPUs in one pod: each node holds 4, the cluster 16.
    big = _submit_past_node_check(
        api, _body("ins-big", "pytorch", GPU_CLUSTER, gpus=5), GPU_CLUSTER
    )

    def waiting(job_id: str, layer: str) -> dict | None:
        return _waiting(api, job_id, layer)

    job = wait_for(lambda: waiting(image, "image"), timeout=90, message="the image wait")
    assert job["status"] in ("Scheduled", "Running")
    assert job["waiting"]["reason"] == "ErrImagePull"
    assert "cannot pull image" in job["waitingReason"] and job["waitingReason"].startswith(
        "Image cannot be pulled"
    )
    pod_image = job["replicas"][0]["pods"][0]["image"]
    assert pod_image and pod_image in job["waiting"]["message"]
    assert job["waiting"]["since"] and job["waiting"]["seconds"] >= 0

    job = wait_for(lambda: waiting(big, "member"), timeout=90, message="the unschedulable pod")
    assert job["status"] == "Scheduled" and job["cluster"] == GPU_CLUSTER
    assert job["waiting"]["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in job["waiting"]["message"]
    assert job["waitingReason"].startswith("Pods Pending in the member: Unschedulable: master-0")
    assert job["queuedSeconds"] > 0 and job["runningSeconds"] is None

    # The list says it in one line; the detail page in full, with the time waited.
    page = Client()
    page.force_login(engineer)
    listing = page.get(reverse("jobs:list")).content.decode()
    assert "Image cannot be pulled: ErrImagePull" in listing
    detail = page.get(reverse("jobs:detail", args=[big])).content.decode()
    assert 'data-waiting-layer="member"' in detail and "Insufficient nvidia.com/gpu" in detail
    assert "for " in detail and "since" in detail

    # The scheduler's refusal is among the job's events too.
    events = api.get(f"/api/v1/jobs/{big}/events").json()["events"]
    assert any(
        e["reason"] == "FailedScheduling" and "nvidia.com/gpu" in e["message"] for e in events
    ), events


def _waiting(api, job_id: str, layer: str) -> dict | None:
    job = _job(api, job_id)
    return job if (job["waiting"] or {}).get("layer") == layer else None


def test_it_says_when_some_replicas_run_while_others_wait(api):
    # Its own test: with the job of 5 GPUs above still holding them, the queue would rightly
    # hold this one back (the cluster has 16) instead of letting the member refuse a pod.
    # 5 pods of 3 GPUs: one per node fits, so four run and the fifth waits.
    partial = _submit_past_node_check(
        api,
        _body(
            "ins-partial",
            "pytorch",
            GPU_CLUSTER,
            instances=5,
            gpus=3,
            labels={RUN_DURATION: "300s"},
        ),
        GPU_CLUSTER,
    )

    def waiting(job_id: str, layer: str) -> dict | None:
        # Until the queue admits it (the job of 5 GPUs above may still be leaving), the
        # platform must keep not knowing the nodes, or it would rightly keep it queued.
        MemberCluster.objects.filter(name=GPU_CLUSTER).update(node_shapes=None)
        return _waiting(api, job_id, layer)

    job = wait_for(
        lambda: waiting(partial, "partial"),
        timeout=120,
        message="the partial wait",
        on_timeout=lambda: f"the job: {_job(api, partial)}",
    )
    # Four run when the GPU nodes are free; fewer when other jobs hold some of their GPUs.
    counts = {g["type"]: (g["running"], g["pending"]) for g in job["replicas"]}
    running = sum(r for r, _ in counts.values())
    pending = sum(p for _, p in counts.values())
    assert running >= 1 and pending >= 1 and running + pending == 5, counts
    assert job["waiting"]["message"].startswith(f"{running} of 5 pods run; "), job["waiting"]
    assert "Insufficient nvidia.com/gpu" in job["waiting"]["message"]
    assert job["waitingReason"].startswith("Some replicas wait: Unschedulable: ")


@pytest.fixture
def tainted_cluster(testbed):
    """CPU_CLUSTER tainted in Karmada (NoSchedule): Karmada's scheduler places nothing new
    there until the taint goes."""
    kube = testbed.kube("karmada")
    path = kube.path("cluster.karmada.io/v1alpha1", "Cluster", CPU_CLUSTER)

    def taints(value: list[dict]) -> None:
        kube.request(
            "PATCH",
            path,
            body={"spec": {"taints": value}},
            content_type="application/merge-patch+json",
        )

    taints([{"key": "testbed.mlplatform.io/closed", "value": "yes", "effect": "NoSchedule"}])
    yield CPU_CLUSTER
    taints([])


def test_it_says_when_karmada_cannot_place_a_job(api, engineer, tainted_cluster):
    job_id = _submit(api, _body("ins-noplace", "xgboost", tainted_cluster))
    job = wait_for(
        lambda: (j := _job(api, job_id))["waiting"] and j,
        timeout=60,
        message="Karmada's refusal on the job",
    )
    assert job["status"] == "Submitted"
    assert job["waiting"]["layer"] == "karmada"
    assert "taint" in job["waiting"]["message"], job["waiting"]
    assert job["waitingReason"].startswith("Karmada cannot place it: ")
    status = api.get(f"/api/v1/jobs/{job_id}/status").json()
    assert status["waitingReason"] == job["waitingReason"]
    page = Client()
    page.force_login(engineer)
    detail = page.get(reverse("jobs:detail", args=[job_id])).content.decode()
    assert 'data-waiting-layer="karmada"' in detail
    events = api.get(f"/api/v1/jobs/{job_id}/events").json()["events"]
    assert any(e["source"] == "karmada" and e["type"] == "Warning" for e in events), events
