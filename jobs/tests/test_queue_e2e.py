"""The queue end to end on the real testbed: REST API -> PostgreSQL -> a real Celery
worker and beat -> Karmada -> member clusters (kwok runs each pod for 5 s) and back.

Quotas and the clusters' real capacity hold jobs back as Queued; job ends admit the next
ones, which then run exactly as any other job does."""

from __future__ import annotations

import copy

import pytest

from clusters.client import ref_for
from jobs.manifests import build_manifests
from jobs.models import JobEvent, NamespaceGrant, NamespaceQuota, TrainingJob
from jobs.tests.contract import readme_example
from testbed.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.testbed]

M2 = "member-cluster-2"  # 4 nodes of 32 CPU, 128 GiB, no GPU


@pytest.fixture
def clients(transactional_db, django_user_model, celery_stack, karmada):
    """API clients of two teams, q1 and q2; every job left is deleted afterwards."""
    from mlplatform.testing import delete_jobs_left, token_client

    made = {}
    for team in ("q1", "q2"):
        user = django_user_model.objects.create_user(username=f"user-{team}", password="pw-123-x")
        NamespaceGrant.objects.create(user=user, namespace=f"team-{team}")
        made[team] = token_client(user)
    yield made
    delete_jobs_left(lambda job: made["q1" if job.namespace == "team-q1" else "q2"])


def _create(api, name, namespace, **changes):
    body = readme_example(jobName=name, namespace=namespace)
    body.update(changes)
    response = api.post("/api/v1/jobs", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _wide(name, namespace, **changes):
    """4 instances x 16 CPU on member-cluster-2: two such jobs fill it."""
    body = readme_example(jobName=name, namespace=namespace, targetClusters=[M2])
    body["resources"] = {
        "instanceResources": {"cpuCores": 16, "memoryGiB": 8, "gpuCount": 0},
        "instanceCount": 4,
        "volumeSizeGB": 0,
    }
    body.update(changes)
    return body


def _all_succeeded(api, ids, timeout=240):
    def done():
        statuses = [api.get(f"/api/v1/jobs/{i}/status").json()["status"] for i in ids]
        assert not {"Failed", "SubmitFailed"} & set(statuses), statuses
        return all(s == "Succeeded" for s in statuses)

    wait_for(done, timeout=timeout, interval=1.0, message=f"jobs {ids} to succeed")


def _admitted_at(job_id):
    event = JobEvent.objects.filter(job_id=job_id, to_status="Pending").first()
    assert event is not None, list(JobEvent.objects.filter(job_id=job_id).values_list("to_status"))
    return event.created_at


def _ended_at(job_id):
    return JobEvent.objects.get(job_id=job_id, to_status="Succeeded").created_at


def test_a_full_quota_queues_and_each_end_admits_the_next(clients):
    api = clients["q1"]
    NamespaceQuota.objects.create(namespace="team-q1", running_jobs=1)
    # The original request, without priority: still 201, with the default.
    first = _create(api, "q-first", "team-q1")
    assert first["status"] == "Pending" and first["priority"] == "normal"
    second = _create(api, "q-second", "team-q1")
    third = _create(api, "q-third", "team-q1")
    assert (second["status"], second["queuePosition"]) == ("Queued", 1)
    assert (third["status"], third["queuePosition"]) == ("Queued", 2)
    assert "team-q1 runs 1 of 1 jobs" in third["statusMessage"]
    assert "1 job ahead of this one" in third["statusMessage"]
    # Waiting means not on Karmada at all.
    job = TrainingJob.objects.get(id=third["id"])
    assert job.submitted_at is None

    ids = [first["id"], second["id"], third["id"]]
    _all_succeeded(api, ids)
    assert _admitted_at(second["id"]) >= _ended_at(first["id"])
    assert _admitted_at(third["id"]) >= _ended_at(second["id"])
    history = list(JobEvent.objects.filter(job_id=second["id"]).values_list("to_status", "reason"))
    assert history[:2] == [("Queued", "Queued"), ("Pending", "Admitted")], history
    assert [s for s, _ in history][-1] == "Succeeded"
    admitted = JobEvent.objects.get(job_id=second["id"], to_status="Pending")
    assert admitted.message.startswith("Admitted: team-q1 now uses 1 of 1 running jobs")


def test_higher_priority_is_admitted_first(clients):
    api = clients["q1"]
    NamespaceQuota.objects.create(namespace="team-q1", running_jobs=1)
    running = _create(api, "p-running", "team-q1")
    low = _create(api, "p-low", "team-q1", priority="low")
    high = _create(api, "p-high", "team-q1", priority="high")
    assert api.get(f"/api/v1/jobs/{high['id']}").json()["queuePosition"] == 1
    assert api.get(f"/api/v1/jobs/{low['id']}").json()["queuePosition"] == 2
    _all_succeeded(api, [running["id"], low["id"], high["id"]])
    assert _admitted_at(high["id"]) < _admitted_at(low["id"])


def test_two_namespaces_sharing_a_full_cluster_both_progress(clients):
    # member-cluster-2 holds two of these jobs at a time. team-q1 takes both places and
    # queues a third; team-q2 queues two after it. When a place frees, team-q2 (holding
    # nothing) goes before team-q1's older third job: neither starves the other. The second
    # job runs longer, so the places free one at a time (two freed in one admission pass
    # would go to both namespaces at once, oldest first).
    q1, q2 = clients["q1"], clients["q2"]
    longer = {"labels": {"testbed.mlplatform.io/run-duration": "40s"}}
    a = [
        q1.post(
            "/api/v1/jobs", _wide(f"fa{i}", "team-q1", **(longer if i == 1 else {})), format="json"
        ).json()
        for i in range(3)
    ]
    b = [
        q2.post("/api/v1/jobs", _wide(f"fb{i}", "team-q2"), format="json").json() for i in range(2)
    ]
    assert [j["status"] for j in a] == ["Pending", "Pending", "Queued"], a
    assert [j["status"] for j in b] == ["Queued", "Queued"], b
    assert "No ready cluster has room for it now" in b[0]["statusMessage"]
    overview = q2.get("/api/v1/queue").json()["namespaces"]
    assert [j["jobName"] for j in overview[0]["waiting"]] == ["fb0", "fb1"]

    _all_succeeded(q1, [j["id"] for j in a], timeout=360)
    _all_succeeded(q2, [j["id"] for j in b], timeout=360)
    assert _admitted_at(b[0]["id"]) < _admitted_at(a[2]["id"])
    # Never more than the cluster holds: each admission came after a job had ended.
    for job in (b[0], a[2], b[1]):
        ended_before = [j for j in (*a, *b) if j is not job]
        assert any(
            JobEvent.objects.filter(
                job_id=j["id"], to_status="Succeeded", created_at__lte=_admitted_at(job["id"])
            ).exists()
            for j in ended_before
        )


def test_karmada_accepts_the_policy_priority(karmada, db):
    """The PropagationPolicy's schedulePriority (KARMADA_SCHEDULE_PRIORITY) is a field
    Karmada v1.18 serves: it is stored as sent."""
    from jobs.tests.factories import TrainingJobFactory

    job = TrainingJobFactory.build(
        namespace="default",
        k8s_name="prio-probe-0001",
        priority="high",
        candidate_clusters=["member-cluster-1"],
    )
    policy = build_manifests(job, schedule_priority_class="mlplatform-high")[1]
    karmada.ensure_namespace("default")
    try:
        karmada.create(copy.deepcopy(policy))
        stored = karmada.get(ref_for(policy))
        assert stored["spec"]["schedulePriority"] == {
            "priorityClassSource": "KubePriorityClass",
            "priorityClassName": "mlplatform-high",
        }
    finally:
        karmada.delete(ref_for(policy))
