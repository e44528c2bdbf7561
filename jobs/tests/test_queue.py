"""The queue on PostgreSQL: quotas, priorities, positions, fair share and race-safe
admission (threads with their own connections, committed transactions)."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from clusters.models import MemberCluster
from jobs import queue, services
from jobs.exceptions import SpecError
from jobs.models import JobEvent, JobStatus, NamespaceQuota, TrainingJob

BODY = {
    "jobName": "q-test",
    "namespace": "team-a",
    "algorithm": {"source": "default", "algorithmName": "xgboost"},
    "resources": {
        "instanceResources": {"cpuCores": 2, "memoryGiB": 4, "gpuCount": 1},
        "instanceCount": 1,
        "volumeSizeGB": 0,
    },
    "hyperparameters": {"xgboost": {"num_round": 10}},
}


def body(name="q-test", *, gpus=1, cpu=2, instances=1, **changes):
    data = copy.deepcopy(BODY)
    data["jobName"] = name
    data["resources"]["instanceResources"]["gpuCount"] = gpus
    data["resources"]["instanceResources"]["cpuCores"] = cpu
    data["resources"]["instanceCount"] = instances
    data.update(changes)
    return data


def quota(namespace="team-a", **limits):
    return NamespaceQuota.objects.create(namespace=namespace, **limits)


def finish(job):
    """The job ends as the sync would record it."""
    TrainingJob.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED)


def reload(job):
    return TrainingJob.objects.get(id=job.id)


@pytest.fixture
def gpu_fleet(db):
    """One ready cluster of 8 GPUs (4 nodes of 2), plenty of CPU."""
    return MemberCluster.objects.create(
        name="gpu-cluster",
        ready=True,
        cpu_allocatable=256,
        memory_allocatable_gib=1024,
        gpu_allocatable=8,
        node_shapes=[{"cpu": 64.0, "memoryGiB": 256.0, "gpu": 2.0, "count": 4}],
    )


@pytest.fixture
def team_b(make_user):
    return make_user("bea", namespaces=("team-b",))


class TestQuota:
    def test_a_job_over_quota_is_accepted_as_queued_with_reason_and_position(
        self, alice, gpu_fleet
    ):
        quota(gpus=2)
        first = services.job_create(user=alice, data=body("one", gpus=2))
        assert first.status == JobStatus.PENDING and first.queue_position is None
        second = services.job_create(user=alice, data=body("two"))
        third = services.job_create(user=alice, data=body("three"))
        assert second.status == third.status == JobStatus.QUEUED
        second, third = reload(second), reload(third)
        assert (second.queue_position, third.queue_position) == (1, 2)
        assert second.status_reason == queue.QUOTA_REASON
        assert "team-a uses 2 of 2 GPUs" in second.status_message
        assert "first in line" in second.status_message
        assert "team-a uses 2 of 2 GPUs" in third.status_message
        assert "1 job ahead of this one" in third.status_message
        # Not on Karmada: no submission is due, and the pending sweep does not pick it up.
        token = third.submit_token
        services.job_pending_sweep(older_than=timedelta(0))
        assert reload(third).status == JobStatus.QUEUED
        assert reload(third).submit_token == token
        assert list(JobEvent.objects.filter(job=third).values_list("to_status", flat=True)) == [
            "Queued"
        ]

    def test_a_job_end_admits_the_next_and_records_it(self, alice, gpu_fleet):
        quota(gpus=2)
        first = services.job_create(user=alice, data=body("one", gpus=2))
        second = services.job_create(user=alice, data=body("two", gpus=2))
        assert queue.queue_admit() == {"admitted": 0, "waiting": 1}
        finish(first)
        assert queue.queue_admit() == {"admitted": 1, "waiting": 0}
        second = reload(second)
        assert second.status == JobStatus.PENDING and second.queue_position is None
        assert second.candidate_clusters == ["gpu-cluster"]
        assert second.manifests[1]["spec"]["placement"]["clusterAffinity"] == {
            "clusterNames": ["gpu-cluster"]
        }
        event = JobEvent.objects.filter(job=second).last()
        assert (event.from_status, event.to_status, event.reason) == (
            "Queued",
            "Pending",
            "Admitted",
        )
        assert event.message.startswith("Admitted: team-a now uses 2 of 2 GPUs")

    def test_running_jobs_limit(self, alice, gpu_fleet):
        quota(running_jobs=1)
        services.job_create(user=alice, data=body("one", gpus=0))
        second = services.job_create(user=alice, data=body("two", gpus=0))
        assert second.status == JobStatus.QUEUED
        assert "team-a runs 1 of 1 jobs" in second.status_message

    def test_a_job_larger_than_the_whole_quota_is_refused(self, alice, gpu_fleet):
        quota(gpus=2)
        with pytest.raises(SpecError) as err:
            services.job_create(user=alice, data=body("big", gpus=2, instances=2))
        assert (
            "the quota of team-a is 2"
            in err.value.fields["resources.instanceResources.gpuCount"][0]
        )
        assert not TrainingJob.objects.exists()

    def test_a_priority_the_namespace_may_not_use_is_refused(self, alice, gpu_fleet):
        quota(priorities=["normal", "low"])
        with pytest.raises(SpecError) as err:
            services.job_create(user=alice, data=body(priority="high"))
        assert "may not use priority 'high'" in err.value.fields["priority"][0]
        assert services.job_create(user=alice, data=body(priority="low")).priority == "low"

    def test_defaults_apply_to_namespaces_without_a_quota(self, alice, gpu_fleet, settings):
        settings.QUOTA_DEFAULT_GPUS = 1
        services.job_create(user=alice, data=body("one"))
        assert services.job_create(user=alice, data=body("two")).status == JobStatus.QUEUED

    def test_raising_a_quota_admits_at_once(self, alice, gpu_fleet):
        quota(gpus=1)
        services.job_create(user=alice, data=body("one"))
        waiting = services.job_create(user=alice, data=body("two"))
        assert waiting.status == JobStatus.QUEUED
        queue.quota_set(namespace="team-a", values={"gpus": 4})
        assert reload(waiting).status == JobStatus.PENDING

    def test_per_cluster_limits_keep_jobs_off_a_full_cluster(self, alice, gpu_fleet):
        MemberCluster.objects.create(
            name="gpu-2",
            ready=True,
            cpu_allocatable=64,
            memory_allocatable_gib=256,
            gpu_allocatable=8,
        )
        quota(clusters={"gpu-cluster": {"gpus": 0}})
        job = services.job_create(user=alice, data=body())
        assert job.candidate_clusters == ["gpu-2"]


class TestOrder:
    def test_higher_priority_is_admitted_first_then_oldest(self, alice, gpu_fleet):
        quota(gpus=1)
        running = services.job_create(user=alice, data=body("running"))
        low = services.job_create(user=alice, data=body("low", priority="low"))
        normal = services.job_create(user=alice, data=body("normal"))
        high = services.job_create(user=alice, data=body("high", priority="high"))
        high2 = services.job_create(user=alice, data=body("high2", priority="high"))
        positions = {j.name: reload(j).queue_position for j in (low, normal, high, high2)}
        assert positions == {"high": 1, "high2": 2, "normal": 3, "low": 4}
        order = []
        current = running
        for _ in range(4):
            finish(current)
            queue.queue_admit()
            current = TrainingJob.objects.get(status=JobStatus.PENDING)
            order.append(current.name)
        assert order == ["high", "high2", "normal", "low"]

    def test_namespaces_share_scarce_capacity_by_dominant_share(self, alice, team_b, gpu_fleet):
        # 8 GPUs in all; team-a fills them with 4 jobs of 2, then queues 2 more; team-b
        # queues 2 later. As GPUs free up, team-b (holding nothing) goes before team-a's
        # older jobs, and then they alternate.
        a = [services.job_create(user=alice, data=body(f"a{i}", gpus=2)) for i in range(6)]
        b = [
            services.job_create(user=team_b, data=body(f"b{i}", gpus=2, namespace="team-b"))
            for i in range(2)
        ]
        assert [j.status for j in a] == ["Pending"] * 4 + ["Queued"] * 2
        assert [j.status for j in b] == ["Queued"] * 2
        assert "No ready cluster has room for it now" in reload(b[0]).status_message
        order = []
        for job in a[:4]:
            finish(job)
            queue.queue_admit()
            pending = set(
                TrainingJob.objects.filter(status=JobStatus.PENDING).values_list("name", flat=True)
            )
            order += sorted(pending - set(order) - {"a0", "a1", "a2", "a3"})
        assert order == ["b0", "b1", "a4", "a5"]

    def test_a_job_no_cluster_has_room_for_now_waits_until_room_frees(self, alice, gpu_fleet):
        big = services.job_create(user=alice, data=body("big", gpus=2, instances=4))
        assert big.status == JobStatus.PENDING
        waiting = services.job_create(user=alice, data=body("next", gpus=1))
        assert waiting.status == JobStatus.QUEUED
        assert waiting.status_reason == queue.CAPACITY_REASON
        assert "gpu-cluster needs 1 GPU, 0 free" in waiting.status_message
        finish(big)
        queue.queue_admit()
        assert reload(waiting).status == JobStatus.PENDING

    def test_deleting_a_queued_job_removes_it_from_the_queue(self, alice, gpu_fleet):
        quota(gpus=1)
        services.job_create(user=alice, data=body("one"))
        two = services.job_create(user=alice, data=body("two"))
        three = services.job_create(user=alice, data=body("three"))
        services.job_delete(job=two, user=alice)
        two = reload(two)
        assert two.status == JobStatus.DELETED and two.status_reason == "RemovedFromQueue"
        queue.queue_admit()
        assert reload(three).queue_position == 1


def test_a_pass_costs_a_few_queries_whatever_the_queue_length(alice, gpu_fleet):
    quota(gpus=1)
    services.job_create(user=alice, data=body("running"))

    def cost(n):
        for i in range(n):
            services.job_create(user=alice, data=body(f"w{n}-{i}"))
        queue.queue_admit()  # settle positions
        with CaptureQueriesContext(connection) as ctx:
            queue.queue_admit()
        return len(ctx.captured_queries)

    assert cost(3) == cost(30)


# --- concurrency ----------------------------------------------------------------------


def _run_threads(n, target):
    start = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            start.wait(timeout=30)
            results.append(target())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_exceed_the_quota(make_user, gpu_fleet):
    alice = make_user("alice", namespaces=("team-a",))
    quota(gpus=3)
    counter = iter(range(100))
    lock = threading.Lock()

    def create():
        with lock:
            i = next(counter)
        return services.job_create(user=alice, data=body(f"c{i}")).status

    results, errors = _run_threads(8, create)
    assert errors == []
    assert sorted(results) == ["Pending"] * 3 + ["Queued"] * 5
    # Admitted ones may have moved on since (a worker of the suite may be running).
    assert TrainingJob.objects.exclude(status=JobStatus.QUEUED).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_admission_passes_never_exceed_the_quota(make_user, gpu_fleet):
    alice = make_user("alice", namespaces=("team-a",))
    quota(gpus=1)
    first = services.job_create(user=alice, data=body("first"))
    jobs = [services.job_create(user=alice, data=body(f"p{i}")) for i in range(10)]
    assert {j.status for j in jobs} == {JobStatus.QUEUED}
    # Free the room and raise the limit behind the queue's back, then let 6 passes race.
    TrainingJob.objects.filter(id=first.id).update(status=JobStatus.SUCCEEDED)
    NamespaceQuota.objects.filter(namespace="team-a").update(gpus=4)
    # Half the threads run passes, half create high-priority jobs that would each take the
    # room for themselves: whoever decides, 4 GPUs is the most that is admitted.
    counter = iter(range(100))
    lock = threading.Lock()

    def act():
        with lock:
            i = next(counter)
        if i % 2:
            return queue.queue_admit()["admitted"]
        job = services.job_create(user=alice, data=body(f"h{i}", priority="high"))
        return int(job.status == JobStatus.PENDING)

    results, errors = _run_threads(8, act)
    assert errors == []
    # A worker of the suite, when one runs, may have taken part: count what the database
    # holds, which is what the quota is about.
    assert sum(results) <= 4
    admitted = TrainingJob.objects.exclude(id=first.id).exclude(status=JobStatus.QUEUED)
    assert admitted.count() == 4
