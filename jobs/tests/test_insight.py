"""Job insight without a cluster: reading pods into waits, failures and the replica table
(pure), the status sync's Karmada-layer wait, what the insight writes store, the API's
null rules, durations, the failure-class filter and the events routes' tenancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.insight import failure_of, keep_removed, replica_groups, waiting_of
from jobs.models import FailureClass, JobStatus, TrainingJob
from jobs.selectors import _pod_view
from jobs.status import observe
from jobs.templatetags.job_insight import duration
from jobs.tests.factories import TrainingJobFactory


def pod(
    name: str = "j-worker-1",
    *,
    rtype: str = "worker",
    index: int = 1,
    phase: str = "Running",
    terminated: dict[str, Any] | None = None,
    waiting: dict[str, Any] | None = None,
    restarts: int = 0,
    unschedulable: str = "",
    reason: str = "",
    message: str = "",
    last: dict[str, Any] | None = None,
):
    status: dict[str, Any] = {"phase": phase, "conditions": []}
    state: dict[str, Any] = {}
    if terminated:
        state["terminated"] = terminated
    if waiting:
        state["waiting"] = waiting
    cstatus: dict[str, Any] = {"name": "pytorch", "restartCount": restarts, "state": state}
    if last:
        cstatus["lastState"] = {"terminated": last}
    status["containerStatuses"] = [cstatus]
    if unschedulable:
        status["conditions"].append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        )
    if reason:
        status["reason"], status["message"] = reason, message
    return _pod_view(
        {
            "metadata": {
                "name": name,
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {
                    "training.kubeflow.org/replica-type": rtype,
                    "training.kubeflow.org/replica-index": str(index),
                },
            },
            "spec": {
                "nodeName": "node-1" if not unschedulable else "",
                "containers": [{"name": "pytorch", "image": "registry.example/train:1"}],
            },
            "status": status,
        }
    )


def master_running():
    return pod("j-master-0", rtype="master", index=0)


# --- failures ---------------------------------------------------------------------


def test_it_names_the_replica_killed_for_memory_after_restarts():
    oom = pod(
        phase="Failed",
        restarts=2,
        terminated={"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-01-01T00:01:00Z"},
    )
    failure = failure_of([master_running(), oom], reason="PyTorchJobFailed", message="")
    assert failure.failure_class == FailureClass.OUT_OF_MEMORY
    assert failure.summary == "worker-1 exited with code 137 (OOMKilled) after 2 restarts"


def test_the_first_replica_to_fail_is_named():
    late = pod(
        "j-master-0",
        rtype="master",
        index=0,
        phase="Failed",
        terminated={"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T00:02:00Z"},
    )
    early = pod(
        phase="Failed",
        terminated={"exitCode": 3, "reason": "Error", "finishedAt": "2026-01-01T00:01:00Z"},
    )
    failure = failure_of([late, early], reason="", message="")
    assert failure.failure_class == FailureClass.EXIT_CODE
    assert failure.summary == "worker-1 exited with code 3 (Error)"


@pytest.mark.parametrize(
    ("kwargs", "cls", "summary_start"),
    [
        (
            {
                "phase": "Failed",
                "reason": "Evicted",
                "message": "The node was low on resource: memory.",
                "terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"},
            },
            FailureClass.EVICTED,
            "worker-1 was evicted from node-1: The node was low on resource: memory.",
        ),
        (
            {"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active too long"},
            FailureClass.DEADLINE,
            "worker-1 ran past its deadline",
        ),
        (
            {"phase": "Failed", "reason": "NodeLost", "message": "node gone"},
            FailureClass.NODE_LOST,
            "worker-1 was lost with its node node-1",
        ),
        (
            {"phase": "Pending", "waiting": {"reason": "ImagePullBackOff", "message": "back-off"}},
            FailureClass.IMAGE,
            "worker-1 could not pull image registry.example/train:1 (ImagePullBackOff)",
        ),
        (
            {"phase": "Pending", "unschedulable": "0/4 nodes are available: 4 Insufficient cpu."},
            FailureClass.SCHEDULING,
            "worker-1 was never scheduled: 0/4 nodes are available",
        ),
    ],
)
def test_each_failure_class(kwargs, cls, summary_start):
    failure = failure_of([pod(**kwargs)], reason="PyTorchJobFailed", message="")
    assert failure.failure_class == cls
    assert failure.summary.startswith(summary_start)


def test_without_pods_the_jobs_own_words_decide():
    failure = failure_of(
        [], reason="PyTorchJobFailed", message="PyTorchJob x has failed: DeadlineExceeded"
    )
    assert failure.failure_class == FailureClass.DEADLINE
    gone = failure_of([], reason="WorkloadMissing", message="The workload is gone.\nmore")
    assert (gone.failure_class, gone.summary) == (FailureClass.UNKNOWN, "The workload is gone.")


# --- waits ------------------------------------------------------------------------


def test_an_unschedulable_pod_names_the_schedulers_reason():
    wait = waiting_of(
        [
            pod(
                phase="Pending",
                unschedulable="0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
            )
        ],
        cluster="member-cluster-1",
    )
    assert wait is not None
    assert (wait.layer, wait.reason) == ("member", "Unschedulable")
    assert wait.message == (
        "worker-1 Pending on member-cluster-1: "
        "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
    )
    assert wait.since is not None


def test_some_replicas_run_while_others_wait():
    wait = waiting_of(
        [master_running(), pod(phase="Pending", unschedulable="0/4 nodes are available")],
        cluster="c",
    )
    assert wait is not None and wait.layer == "partial"
    assert wait.message.startswith("1 of 2 pods run; worker-1 Pending on c")


def test_an_image_that_cannot_be_pulled_is_named():
    wait = waiting_of(
        [pod(phase="Pending", waiting={"reason": "ErrImagePull", "message": "not found"})],
        cluster="c",
    )
    assert wait is not None and (wait.layer, wait.reason) == ("image", "ErrImagePull")
    assert "cannot pull image registry.example/train:1: not found" in wait.message


def test_a_pod_merely_starting_is_not_a_wait():
    assert (
        waiting_of([pod(phase="Pending", waiting={"reason": "ContainerCreating"})], cluster="c")
        is None
    )
    assert waiting_of([master_running()], cluster="c") is None


def test_karmada_refusing_to_place_is_a_karmada_wait():
    seen = observe(
        {},
        {
            "spec": {},
            "status": {
                "conditions": [
                    {
                        "type": "Scheduled",
                        "status": "False",
                        "reason": "NoClusterFit",
                        "message": "0/2 clusters are available: "
                        "2 cluster(s) had untolerated taint.",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        },
    )
    assert (seen.waiting_layer, seen.waiting_reason) == ("karmada", "NoClusterFit")
    assert "untolerated taint" in seen.waiting_message and seen.waiting_since is not None


# --- the replica table -----------------------------------------------------------------


def test_replicas_are_grouped_with_counts_and_rows():
    groups = replica_groups(
        [
            master_running(),
            pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"}),
            pod("j-worker-2", index=2, phase="Pending", unschedulable="no node"),
        ]
    )
    assert [g["type"] for g in groups] == ["master", "worker"]
    worker = groups[1]
    assert (worker["total"], worker["failed"], worker["pending"]) == (2, 1, 1)
    row = worker["pods"][0]
    assert (row["exitCode"], row["reason"], row["node"], row["index"]) == (
        137,
        "OOMKilled",
        "node-1",
        1,
    )
    assert worker["pods"][1]["reason"] == "Unschedulable"


def test_pods_removed_since_stay_in_the_table_as_removed():
    before = replica_groups([master_running(), pod()])
    after = replica_groups([pod("j-master-0", rtype="master", index=0, phase="Failed")])
    merged = keep_removed(before, after)
    worker = next(g for g in merged if g["type"] == "worker")
    assert worker["pods"][0]["phase"] == "Removed" and worker["total"] == 1
    assert keep_removed(merged, after) == merged  # stable over passes


def test_a_pod_that_had_ended_keeps_its_row_when_it_is_cleaned_up():
    oom = pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"})
    before = replica_groups([master_running(), oom])
    merged = keep_removed(before, [])
    master, worker = merged
    assert master["pods"][0]["phase"] == "Removed" and master["running"] == 0
    assert (worker["total"], worker["failed"]) == (1, 1)
    assert worker["pods"][0] == before[1]["pods"][0]  # as it ended: code, reason, times
    assert keep_removed(merged, []) == merged


# --- what is stored, and the API's view of it ------------------------------------------------


def test_a_failed_status_is_classified_at_once_and_a_new_status_clears_the_wait(alice):
    job = TrainingJobFactory(
        owner=alice,
        submitted=True,
        waiting_layer="karmada",
        waiting_reason="NoClusterFit",
        waiting_message="no fit",
        waiting_since=timezone.now(),
    )
    services.job_apply_status(job_id=job.id, status=JobStatus.SCHEDULED, cluster="member-cluster-1")
    job.refresh_from_db()
    assert (job.waiting_layer, job.waiting_reason, job.waiting_since) == ("", "", None)
    services.job_apply_status(
        job_id=job.id,
        status=JobStatus.FAILED,
        reason="XGBoostJobFailed",
        message="deadline hit: DeadlineExceeded",
    )
    job.refresh_from_db()
    assert job.failure_class == FailureClass.DEADLINE
    assert job.failure_summary == "deadline hit: DeadlineExceeded"


def test_insight_apply_stores_the_wait_and_the_failure(alice):
    job = TrainingJobFactory(owner=alice, running=True)
    stuck = [master_running(), pod(phase="Pending", unschedulable="0/4 nodes are available")]
    assert services.job_insight_apply(job=job, pods=stuck)
    job.refresh_from_db()
    assert job.waiting_layer == "partial" and job.waiting_since is not None
    assert job.replica_status[1]["pending"] == 1 and job.insight_at is not None
    # Nothing new: no write.
    stamp = job.updated_at
    assert not services.job_insight_apply(job=job, pods=stuck)
    job.refresh_from_db()
    assert job.updated_at == stamp

    TrainingJob.objects.filter(id=job.id).update(status=JobStatus.FAILED)
    job.refresh_from_db()
    oom = pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"})
    assert services.job_insight_apply(job=job, pods=[master_running(), oom])
    job.refresh_from_db()
    assert job.failure_class == FailureClass.OUT_OF_MEMORY
    assert job.failure_summary == "worker-1 exited with code 137 (OOMKilled)"


def test_a_finished_job_read_while_a_replica_still_ran_is_read_until_it_is_gone(alice):
    job = TrainingJobFactory(owner=alice, running=True, cluster="member-cluster-1")
    services.job_insight_apply(job=job, pods=[master_running(), pod()])
    TrainingJob.objects.filter(id=job.id).update(
        status=JobStatus.FAILED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    assert job in services.insight_candidates()  # not read since it ended
    # The capture: the worker was killed for memory, the master still runs (the operator
    # is about to remove it).
    oom = pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"})
    assert services.job_insight_apply(job=job, pods=[master_running(), oom])
    job.refresh_from_db()
    assert job.replicas_unsettled and job.replica_status[0]["running"] == 1
    assert job in services.insight_candidates()
    # The next pass finds the master gone: Removed, the worker's row as it ended.
    assert services.job_insight_apply(job=job, pods=[oom])
    job.refresh_from_db()
    master, worker = job.replica_status
    assert master["pods"][0]["phase"] == "Removed" and master["running"] == 0
    assert worker["failed"] == 1 and worker["pods"][0]["reason"] == "OOMKilled"
    assert not job.replicas_unsettled and job not in services.insight_candidates()
    assert job.failure_summary == "worker-1 exited with code 137 (OOMKilled)"
    # Later every pod is cleaned up (a TTL): the table stays as it was, nothing is written.
    stamp = job.updated_at
    assert not services.job_insight_apply(job=job, pods=[])
    job.refresh_from_db()
    assert job.replica_status == [master, worker] and job.updated_at == stamp


def test_rows_written_by_a_release_before_the_unsettled_flag_get_its_default(db):
    """The previous release's pods keep inserting jobs while a rolling upgrade runs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_default, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'jobs_trainingjob' AND column_name = 'replicas_unsettled'"
        )
        assert cursor.fetchone() == ("false", "NO")


def test_the_api_shows_waits_only_while_waiting_and_failures_only_when_failed(api_alice, alice):
    waiting = TrainingJobFactory(
        owner=alice,
        running=True,
        waiting_layer="member",
        waiting_reason="Unschedulable",
        waiting_message="worker-1 Pending on member-cluster-1: 0/4 nodes are available",
        waiting_since=timezone.now() - timedelta(seconds=30),
        failure_class=FailureClass.EXIT_CODE,  # stale: the job has not failed
        failure_summary="old",
    )
    body = api_alice.get(f"/api/v1/jobs/{waiting.pk}").json()
    assert body["waitingReason"] == (
        "Pods Pending in the member: Unschedulable: worker-1 Pending on member-cluster-1: "
        "0/4 nodes are available"
    )
    assert body["waiting"]["layer"] == "member" and body["waiting"]["seconds"] >= 30
    assert body["failureClass"] is None and body["failureSummary"] is None
    assert body["runningSeconds"] is not None and body["queuedSeconds"] is not None

    TrainingJob.objects.filter(id=waiting.id).update(
        status=JobStatus.FAILED, finished_at=timezone.now()
    )
    body = api_alice.get(f"/api/v1/jobs/{waiting.pk}").json()
    assert body["waitingReason"] is None and body["waiting"] is None
    assert (body["failureClass"], body["failureSummary"]) == ("ExitCode", "old")
    status = api_alice.get(f"/api/v1/jobs/{waiting.pk}/status").json()
    assert (status["waitingReason"], status["failureClass"]) == (None, "ExitCode")


def test_durations_count_queue_run_and_total(alice):
    now = timezone.now()
    job = TrainingJobFactory(owner=alice, status=JobStatus.SUCCEEDED)
    TrainingJob.objects.filter(id=job.id).update(
        created_at=now - timedelta(seconds=100),
        started_at=now - timedelta(seconds=70),
        finished_at=now - timedelta(seconds=10),
    )
    job.refresh_from_db()
    assert (job.queued_seconds, job.running_seconds, job.total_seconds) == (30, 60, 90)
    pending = TrainingJobFactory(owner=alice)
    assert pending.running_seconds is None and pending.queued_seconds >= 0
    assert (duration(None), duration(42), duration(75), duration(3725)) == (
        "—",
        "42s",
        "1m 15s",
        "1h 2m",
    )


def test_the_failure_class_filters_the_list(api_alice, client, alice, api_charlie):
    oom = TrainingJobFactory(owner=alice, status=JobStatus.FAILED, failure_class="OutOfMemory")
    TrainingJobFactory(owner=alice, status=JobStatus.FAILED, failure_class="ExitCode")
    TrainingJobFactory(owner=alice, running=True, failure_class="OutOfMemory")  # not Failed
    TrainingJobFactory(namespace="team-c", status=JobStatus.FAILED, failure_class="OutOfMemory")
    ids = [
        j["id"] for j in api_alice.get("/api/v1/jobs?failureClass=OutOfMemory").json()["results"]
    ]
    assert ids == [str(oom.id)]
    charlie_ids = api_charlie.get("/api/v1/jobs?failureClass=OutOfMemory").json()["results"]
    assert all(j["namespace"] == "team-c" for j in charlie_ids) and len(charlie_ids) == 1
    client.force_login(alice)
    page = client.get(reverse("jobs:list") + "?failure_class=OutOfMemory").content.decode()
    assert page.count('class="job-link"') == 1 and oom.name in page


def test_events_of_a_job_not_on_karmada_are_empty_and_outsiders_get_404(
    api_alice, api_charlie, alice, charlie
):
    job = TrainingJobFactory(owner=alice)  # Pending: nothing on Karmada to ask
    response = api_alice.get(f"/api/v1/jobs/{job.pk}/events")
    assert response.status_code == 200
    assert response.json() == {"cluster": "", "events": [], "unavailable": {}}
    assert api_charlie.get(f"/api/v1/jobs/{job.pk}/events").status_code == 404
    page = Client()
    page.force_login(alice)
    assert page.get(reverse("jobs:events", args=[job.pk])).status_code == 200
    other = Client()
    other.force_login(charlie)
    assert other.get(reverse("jobs:events", args=[job.pk])).status_code == 404
    assert (
        other.get(reverse("jobs:events", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 404
    )


@pytest.mark.testbed
def test_the_insight_pass_reads_a_finished_job_once_more_then_leaves_it(alice, karmada):
    """A capture message lost as the job ended: the pass reads its pods (a real LIST on the
    testbed member; none left here), marks it read, and does not read it again."""
    ended = timezone.now() - timedelta(seconds=30)
    job = TrainingJobFactory(
        owner=alice,
        status=JobStatus.FAILED,
        cluster="member-cluster-1",
        finished_at=ended,
        insight_at=ended - timedelta(seconds=10),  # read while it ran, not since
    )
    services.job_insight_sync()
    job.refresh_from_db()
    assert job.insight_at > ended
    read_at = job.insight_at
    services.job_insight_sync()
    job.refresh_from_db()
    assert job.insight_at == read_at


def test_the_insight_pass_settles_a_finished_job_read_while_a_replica_ran(alice, karmada):
    """A capture that found the master still running (its operator about to remove it): the
    pass reads the job again on the testbed member, where its pods are gone, marks the
    master Removed and keeps the worker's row as it ended; then it leaves the job."""
    ended = timezone.now() - timedelta(seconds=30)
    oom = pod(phase="Failed", terminated={"exitCode": 137, "reason": "OOMKilled"})
    job = TrainingJobFactory(
        owner=alice,
        status=JobStatus.FAILED,
        cluster="member-cluster-1",
        finished_at=ended,
        insight_at=ended + timedelta(seconds=1),  # the capture
        replica_status=replica_groups([master_running(), oom]),
        replicas_unsettled=True,
    )
    services.job_insight_sync()
    job.refresh_from_db()
    master, worker = job.replica_status
    assert (master["pods"][0]["phase"], master["total"], master["running"]) == ("Removed", 1, 0)
    assert (worker["failed"], worker["pods"][0]["exitCode"]) == (1, 137)
    assert not job.replicas_unsettled
    read_at = job.insight_at
    services.job_insight_sync()
    job.refresh_from_db()
    assert job.insight_at == read_at
