"""Branches of the status sync that the reliability tests leave out, on the testbed's
Karmada. A job "on Karmada" here is moved to Submitted without creating its objects, so
the LIST never shows it: the sync must confirm by name before it believes it is gone."""

from __future__ import annotations

import pytest

from clusters.client import ClusterError, KarmadaClient
from jobs import services
from jobs.models import JobStatus, TrainingJob
from jobs.tests.test_services import body

pytestmark = pytest.mark.testbed


@pytest.fixture
def live(karmada, db):
    from clusters.services import cluster_inventory_sync

    assert cluster_inventory_sync() >= 2
    return karmada


def _submitted_without_objects(alice, name: str) -> TrainingJob:
    job = services.job_create(user=alice, data=body(jobName=name))
    assert services.job_transition(
        job_id=job.id, old=JobStatus.PENDING, new=JobStatus.SUBMITTED, reason="Submitted"
    )
    job.refresh_from_db()
    return job


def test_a_failed_confirming_get_changes_nothing(alice, live, monkeypatch):
    job = _submitted_without_objects(alice, "sync-get-fails")
    real_get = KarmadaClient.get

    def flaky_get(self, ref):  # fault: the GET by name times out, the LISTs still answer
        if ref.name == job.k8s_name:
            raise ClusterError(f"get {ref.kind}: timed out", permanent=False)
        return real_get(self, ref)

    monkeypatch.setattr(KarmadaClient, "get", flaky_get)
    assert services.job_status_sync() == 0
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTED and job.missing_since is None


def test_a_pass_confirms_only_so_many_missing_workloads(alice, live, monkeypatch):
    # Each confirmation is one GET: a pass must stay cheap however many jobs look gone.
    monkeypatch.setattr(services, "_MISSING_CHECKS_PER_PASS", 2)
    jobs = [_submitted_without_objects(alice, f"sync-cap-{i}") for i in range(3)]

    services.job_status_sync()
    suspected = TrainingJob.objects.filter(id__in=[j.id for j in jobs], missing_since__isnull=False)
    assert suspected.count() == 2
    assert not TrainingJob.objects.filter(status=JobStatus.FAILED).exists()


def test_a_job_without_manifests_is_never_declared_missing(alice, live):
    job = _submitted_without_objects(alice, "sync-no-manifests")
    TrainingJob.objects.filter(id=job.id).update(manifests=[])
    services.job_status_sync()
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTED and job.missing_since is None
