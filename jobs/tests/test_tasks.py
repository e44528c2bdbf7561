"""The submit task's error classes, run eagerly (``.apply()``) on real PostgreSQL.

Transient errors come from a real Karmada address nobody listens on, permanent ones from
the testbed's Karmada refusing an invalid object; only the bug is injected.
"""

from __future__ import annotations

import random

import pytest
import yaml
from django.utils import timezone

from clusters.client import ref_for
from jobs import services, tasks
from jobs.models import JobEvent, JobStatus, TrainingJob
from jobs.tests.test_services import body


@pytest.fixture
def unreachable_karmada(settings, tmp_path):
    """A kubeconfig whose API server address refuses connections: a real transient error."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "current-context": "c",
    }
    path = tmp_path / "unreachable.yaml"
    path.write_text(yaml.safe_dump(config))
    settings.KARMADA_KUBECONFIG_PATH = str(path)
    return path


def _submit(job: TrainingJob, *, retries: int = 0):
    return tasks.job_submit_task.apply(
        kwargs={"job_id": str(job.id), "token": str(job.submit_token)}, retries=retries
    )


class TestBackoff:
    @pytest.mark.parametrize(("retries", "ceiling"), [(0, 1), (1, 2), (3, 8), (5, 32), (6, 60)])
    def test_it_doubles_per_attempt_with_jitter_in_the_upper_half(self, retries, ceiling):
        random.seed(retries)
        waits = [tasks._backoff(retries) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        # Jitter: many workers retrying after one outage must not all come back at once.
        assert len({round(w, 6) for w in waits}) > 100

    def test_it_never_waits_more_than_a_minute(self):
        assert max(tasks._backoff(r) for r in range(7, 60)) <= 60.0


class TestSubmitTask:
    def test_transient_errors_are_retried_with_backoff_then_given_up(
        self, alice, fleet, unreachable_karmada, settings, monkeypatch
    ):
        settings.JOB_SUBMIT_MAX_RETRIES = 3
        job = services.job_create(user=alice, data=body())
        scheduled = []
        real = services.job_submit_retry_scheduled

        def spy(**kwargs):  # records each retry's schedule, then does the real work
            scheduled.append((timezone.now(), kwargs["message"], kwargs["at"]))
            real(**kwargs)

        monkeypatch.setattr(services, "job_submit_retry_scheduled", spy)

        # Eagerly, Celery runs each retry at once instead of after its countdown.
        result = _submit(job)

        assert result.state == "SUCCESS" and result.result == "gave-up"
        job.refresh_from_db()
        assert job.submit_attempts == 4  # the first attempt and three retries, no more
        assert [message.split(":")[0] for _, message, _ in scheduled] == [
            "Attempt 1 failed",
            "Attempt 2 failed",
            "Attempt 3 failed",
        ]
        for retries, (now, _, at) in enumerate(scheduled):
            wait = (at - now).total_seconds()
            assert 2**retries / 2 - 0.1 <= wait <= 2**retries + 0.1
        # Still Pending: the pending sweep starts a new chain later, Karmada may be back.
        assert job.status == JobStatus.PENDING and job.status_reason == "KarmadaUnreachable"
        assert "Will try again automatically" in job.status_message
        assert job.next_attempt_at is None

    def test_a_chain_on_its_last_allowed_retry_tries_once_more_then_gives_up(
        self, alice, fleet, unreachable_karmada, settings
    ):
        settings.JOB_SUBMIT_MAX_RETRIES = 3
        job = services.job_create(user=alice, data=body())
        assert _submit(job, retries=2).result == "gave-up"
        job.refresh_from_db()
        assert job.submit_attempts == 2

    def test_a_chain_past_its_retries_gives_up_after_one_attempt(
        self, alice, fleet, unreachable_karmada, settings
    ):
        settings.JOB_SUBMIT_MAX_RETRIES = 3
        job = services.job_create(user=alice, data=body())
        assert _submit(job, retries=3).result == "gave-up"
        job.refresh_from_db()
        assert job.submit_attempts == 1 and job.status_reason == "KarmadaUnreachable"

    def test_a_stale_chain_gives_up_without_touching_the_job(
        self, alice, fleet, unreachable_karmada, settings
    ):
        settings.JOB_SUBMIT_MAX_RETRIES = 0
        job = services.job_create(user=alice, data=body())
        old = job.submit_token
        job = services.job_resubmit(job=job, user=alice)  # a new chain supersedes the old
        result = tasks.job_submit_task.apply(kwargs={"job_id": str(job.id), "token": str(old)})
        assert result.result == "superseded"
        job.refresh_from_db()
        assert job.status_reason != "KarmadaUnreachable"

    def test_a_bug_is_not_retried(self, alice, fleet, monkeypatch, caplog):
        job = services.job_create(user=alice, data=body())

        def broken(**kwargs):  # fault: a programming error deep in the submit path
            raise KeyError("spec")

        monkeypatch.setattr(services, "job_submit", broken)
        result = _submit(job)

        assert result.state == "SUCCESS" and result.result == "crashed"
        job.refresh_from_db()
        assert job.status == JobStatus.PENDING and job.status_reason == "InternalError"
        assert "KeyError" in job.status_message and job.next_attempt_at is None
        assert "Traceback" in caplog.text

    @pytest.mark.testbed
    def test_a_permanent_refusal_fails_the_job_and_is_not_retried(self, alice, fleet, karmada):
        job = services.job_create(user=alice, data=body())
        # Karmada's API server refuses an object whose name is no DNS label (HTTP 422).
        manifests = job.manifests
        manifests[1]["metadata"]["name"] = "Not_A_Valid_Name"
        TrainingJob.objects.filter(id=job.id).update(manifests=manifests)
        try:
            result = _submit(job)

            assert result.state == "SUCCESS" and result.result == JobStatus.SUBMIT_FAILED
            job.refresh_from_db()
            assert job.status == JobStatus.SUBMIT_FAILED
            assert job.status_reason == "KarmadaRejected" and job.status_message
            assert job.next_attempt_at is None and job.finished_at
            assert list(JobEvent.objects.filter(job=job).values_list("to_status", flat=True)) == [
                JobStatus.PENDING,
                JobStatus.SUBMIT_FAILED,
            ]
        finally:
            for obj in job.manifests:
                karmada.delete(ref_for(obj))
