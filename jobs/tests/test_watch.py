"""The status sync on the testbed's Karmada costs what changed: after its first pass it
watches every stream from where it left off instead of listing, looks only at the jobs
whose objects or rows changed, lists again when its version is too old, and reads a
status from the member's own copy of the workload."""

from __future__ import annotations

import pytest

from clusters.client import KarmadaClient, ref_for
from jobs import services, tasks, watch
from jobs.models import JobStatus, TrainingJob
from jobs.tests.test_services import body
from mlplatform import metrics
from testbed.api import RUN_DURATION_ANNOTATION
from testbed.polling import wait_for

pytestmark = pytest.mark.testbed


@pytest.fixture
def live(karmada, db):
    from clusters.services import cluster_inventory_sync

    assert cluster_inventory_sync() >= 2
    return karmada


class Calls:
    """Every list and watch the sync sends, and every job it looks at."""

    def __init__(self) -> None:
        self.list: list = []
        self.watch: list = []
        self.looked_at: list = []

    def reset(self) -> None:
        self.list.clear()
        self.watch.clear()
        self.looked_at.clear()


@pytest.fixture
def calls(monkeypatch) -> Calls:
    """Records the sync's requests and the jobs it looks at; the real calls still run."""
    seen = Calls()
    real_list, real_watch = KarmadaClient.list_collection, KarmadaClient.watch_collection
    real_apply = services._apply_observed

    def list_collection(self, collection, **kw):
        seen.list.append(collection)
        return real_list(self, collection, **kw)

    def watch_collection(self, collection, **kw):
        seen.watch.append(collection)
        return real_watch(self, collection, **kw)

    def apply(job, observed):
        seen.looked_at.append(job.id)
        return real_apply(job, observed)

    monkeypatch.setattr(KarmadaClient, "list_collection", list_collection)
    monkeypatch.setattr(KarmadaClient, "watch_collection", watch_collection)
    monkeypatch.setattr(services, "_apply_observed", apply)
    return seen


def _running_long(alice, name: str) -> TrainingJob:
    """A job whose pod runs for ten minutes (a test-only kwok annotation), so it stays
    Running while the test watches the sync."""
    job = services.job_create(user=alice, data=body(jobName=name))
    manifests = job.manifests
    for replica in manifests[0]["spec"]["xgbReplicaSpecs"].values():
        meta = replica["template"].setdefault("metadata", {})
        meta.setdefault("annotations", {})[RUN_DURATION_ANNOTATION] = "10m"
    TrainingJob.objects.filter(id=job.id).update(manifests=manifests)
    assert services.job_submit(job_id=job.id, token=job.submit_token) == JobStatus.SUBMITTED
    return TrainingJob.objects.get(id=job.id)


def _all_running(jobs: list[TrainingJob]) -> bool:
    services.job_status_sync()
    return all(TrainingJob.objects.get(id=j.id).status == JobStatus.RUNNING for j in jobs)


def _cleanup(karmada, jobs: list[TrainingJob]) -> None:
    for job in jobs:
        for obj in job.manifests:
            karmada.delete(ref_for(obj))


def test_later_passes_watch_and_look_only_at_what_changed(alice, live, calls):
    first, second = _running_long(alice, "watch-a"), _running_long(alice, "watch-b")
    try:
        wait_for(lambda: _all_running([first, second]), timeout=90, message="both jobs Running")

        def quiet_pass() -> bool:
            calls.reset()
            services.job_status_sync()
            return not {first.id, second.id} & set(calls.looked_at)

        # Once the operators stop writing status, a pass looks at neither job.
        wait_for(quiet_pass, timeout=60, message="a pass that looks at neither job")
        assert calls.list == [], "a pass after the first must watch, not list"
        watched = {(c.plural, c.cluster) for c in calls.watch}
        assert {
            ("xgboostjobs", ""),
            ("resourcebindings", ""),
            ("xgboostjobs", "member-cluster-1"),
            ("xgboostjobs", "member-cluster-2"),
        } <= watched

        # A change to one job's template on Karmada: the next pass looks at that job only.
        ref = ref_for(first.manifests[0])
        live.custom.patch_namespaced_custom_object(
            ref.group,
            ref.version,
            ref.namespace,
            ref.plural,
            ref.name,
            {"metadata": {"annotations": {"test.mlplatform.io/touched": "yes"}}},
        )

        def first_looked_at() -> bool:
            calls.reset()
            services.job_status_sync()
            return first.id in calls.looked_at

        wait_for(first_looked_at, timeout=30, message="the changed job looked at")
        assert second.id not in calls.looked_at
        assert TrainingJob.objects.get(id=first.id).status == JobStatus.RUNNING
    finally:
        _cleanup(live, [first, second])


def _histogram(name: str) -> tuple[int, float]:
    """(observations, their sum) of a histogram as /metrics reads it from Redis."""
    raw = metrics._redis().hgetall(f"{metrics.PREFIX}:h:{name}")
    fields = {k.decode(): float(v) for k, v in raw.items()}
    return int(sum(v for k, v in fields.items() if k != "sum")), fields.get("sum", 0.0)


def test_a_pass_reports_the_part_of_it_spent_on_its_watches(alice, live):
    job = _running_long(alice, "watch-timed")
    try:
        wait_for(lambda: _all_running([job]), timeout=90, message="the job Running")
        passes, pass_seconds = _histogram("status_sync_seconds")
        watches, watch_seconds = _histogram("status_sync_watch_seconds")
        tasks.job_status_sync_task.apply()
        passes_after, pass_seconds_after = _histogram("status_sync_seconds")
        watches_after, watch_seconds_after = _histogram("status_sync_watch_seconds")
        assert passes_after > passes and watches_after > watches
        # The watches are a part of the pass, never more than all of it.
        assert 0 < watch_seconds_after - watch_seconds <= pass_seconds_after - pass_seconds
    finally:
        _cleanup(live, [job])


def test_a_version_too_old_to_resume_from_lists_again(alice, live, calls):
    job = _running_long(alice, "watch-gone")
    try:
        wait_for(lambda: _all_running([job]), timeout=90, message="the job Running")
        cache = watch.observations(live)
        stream = watch.workload_stream("kubeflow.org", "v1", "xgboostjobs", "XGBoostJob")
        meta_key, _ = cache._keys(stream)
        # Fault: a version the API server's watch cache no longer holds (real 410 Gone).
        cache.conn.hset(meta_key, "rv", "1")
        calls.reset()
        services.job_status_sync()
        assert stream.collection in calls.list, "a 410 must make the stream list again"
        assert cache.conn.hget(meta_key, "rv") not in (None, b"1")
        assert TrainingJob.objects.get(id=job.id).status == JobStatus.RUNNING
        calls.reset()
        services.job_status_sync()
        assert stream.collection not in calls.list
    finally:
        _cleanup(live, [job])


def test_streams_are_listed_whole_again_after_the_resync_period(alice, live, calls, settings):
    job = _running_long(alice, "watch-resync")
    try:
        wait_for(lambda: _all_running([job]), timeout=90, message="the job Running")
        settings.JOB_SYNC_RESYNC_SECONDS = 0
        calls.reset()
        services.job_status_sync()
        assert {c.plural for c in calls.list} >= {"xgboostjobs", "resourcebindings"}
        # A relist looks at every active job, changed or not.
        assert job.id in calls.looked_at
    finally:
        _cleanup(live, [job])
