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
from jobs.tests.test_services import body, wait_deleted


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


@pytest.mark.testbed
class TestSubmitAlongside:
    """A submit task takes along jobs whose own submissions still wait in the broker: real
    PostgreSQL (committed rows: the threads have connections of their own) and the
    testbed's Karmada."""

    @pytest.fixture
    def waiting_jobs(self, transactional_db, alice, fleet, karmada, monkeypatch, settings):
        # Their messages are never sent, as in a broker with a long backlog: only the
        # claim below submits them (and a suite's running worker cannot race it).
        monkeypatch.setattr(services, "_enqueue_submit", lambda job_id, token: None)
        jobs = [services.job_create(user=alice, data=body(jobName=f"along-{i}")) for i in range(5)]
        testbed_karmada = settings.KARMADA_KUBECONFIG_PATH
        yield jobs
        settings.KARMADA_KUBECONFIG_PATH = testbed_karmada  # a test may have pointed it away
        for job in jobs:
            TrainingJob.objects.filter(id=job.id).update(status=JobStatus.DELETING)
            wait_deleted(job)

    def test_it_submits_the_oldest_waiting_jobs_in_parallel_once(self, waiting_jobs, karmada):
        first, second, third, fourth, fifth = waiting_jobs
        # Tried already (its own chain has it), waiting out a backoff, or not Pending: never
        # taken along.
        TrainingJob.objects.filter(id=first.id).update(submit_attempts=1)
        TrainingJob.objects.filter(id=second.id).update(
            next_attempt_at=timezone.now() + timezone.timedelta(minutes=1)
        )

        assert services.job_submit_alongside(limit=2) == {JobStatus.SUBMITTED: 2}
        by_id = {j.id: j for j in TrainingJob.objects.filter(id__in=[j.id for j in waiting_jobs])}
        assert by_id[third.id].status == by_id[fourth.id].status == JobStatus.SUBMITTED
        assert by_id[third.id].submit_attempts == by_id[fourth.id].submit_attempts == 1
        for job in (third, fourth):
            assert all(karmada.get(ref_for(obj)) is not None for obj in job.manifests)
        assert {by_id[j.id].status for j in (first, second, fifth)} == {JobStatus.PENDING}
        assert by_id[fifth.id].submit_attempts == 0

        # Its own message arrives later: nothing more happens, and nothing twice.
        assert services.job_submit(job_id=third.id, token=third.submit_token) == "Submitted"
        assert JobEvent.objects.filter(job_id=third.id, to_status=JobStatus.SUBMITTED).count() == 1
        # The next task takes the last waiting one; then there is none.
        assert services.job_submit_alongside(limit=4) == {JobStatus.SUBMITTED: 1}
        assert services.job_submit_alongside(limit=4) == {}

    def test_a_passing_failure_leaves_the_job_to_its_own_chain(
        self, waiting_jobs, unreachable_karmada
    ):
        outcome = services.job_submit_alongside(limit=1)
        assert outcome == {"retrying": 1}
        job = TrainingJob.objects.get(id=waiting_jobs[0].id)
        assert job.status == JobStatus.PENDING and job.status_reason == "SubmitRetrying"
        # Counted as tried: only its own chain (with its retries) takes it from here.
        assert job.submit_attempts == 1
        assert services.job_submit_alongside(limit=1) == {"retrying": 1}
        assert TrainingJob.objects.get(id=waiting_jobs[1].id).submit_attempts == 1
