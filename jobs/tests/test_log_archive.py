"""Pod logs that outlive the pods: archived when a job finishes and before it is deleted,
served by the API and the page once the pod is gone (marked archived, downloadable whole),
removed after the retention; live logs followed with a cursor. Real jobs on the testbed
through the real worker; the archive's own rules on the database alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs import archive, services
from jobs.models import JobStatus, PodLogArchive, TrainingJob
from jobs.selectors import _timestamp_key, job_pod_log_follow
from jobs.tests.factories import TrainingJobFactory
from testbed.kwok import POD_LOG_LINES
from testbed.polling import wait_for

LOG = "".join(f"line {i}\n" for i in range(1, 11))


def _archived(job: TrainingJob, pod: str = "j-master-0", text: str = LOG) -> PodLogArchive:
    return archive._store(
        job,
        pod=pod,
        container="pytorch",
        main=True,
        phase="Succeeded",
        data=text.encode(),
        truncated=False,
    )


@pytest.fixture
def gone_job(alice):
    """A deleted job whose pods are gone; its log was archived on the way."""
    job = TrainingJobFactory(owner=alice, deleted=True, cluster="member-cluster-1")
    _archived(job)
    yield job
    for saved in PodLogArchive.objects.all():
        saved.file.delete(save=False)


# --- serving the archive ----------------------------------------------------------------------


def test_the_api_serves_the_archive_once_the_pod_is_gone(api_alice, gone_job):
    response = api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods/j-master-0/log?tailLines=3")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["archived"] is True and body["archivedAt"]
    assert body["log"] == "line 8\nline 9\nline 10\n"
    assert (body["container"], body["podPhase"], body["cursor"]) == ("pytorch", "Succeeded", None)
    assert body["truncated"] is False
    # Another name is still no pod of this job.
    assert api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods/other-0/log").status_code == 404


def test_the_pods_of_a_gone_job_list_its_archived_logs(api_alice, client, alice, gone_job):
    body = api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods").json()
    assert body["pods"] == []
    [saved] = body["archivedLogs"]
    assert (saved["pod"], saved["container"], saved["phase"]) == (
        "j-master-0",
        "pytorch",
        "Succeeded",
    )
    client.force_login(alice)
    fragment = client.get(
        reverse("jobs:pods", args=[gone_job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Archived logs" in fragment
    assert reverse("jobs:pod-log", args=[gone_job.pk, "j-master-0"]) in fragment


def test_the_whole_archive_downloads_as_text(api_alice, client, alice, gone_job):
    response = api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods/j-master-0/log?download=1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert 'attachment; filename="j-master-0.log"' == response["Content-Disposition"]
    assert b"".join(response.streaming_content).decode() == LOG
    client.force_login(alice)
    page = client.get(reverse("jobs:pod-log", args=[gone_job.pk, "j-master-0"]) + "?download=1")
    assert b"".join(page.streaming_content).decode() == LOG


def test_the_log_page_marks_the_archive(client, alice, gone_job):
    client.force_login(alice)
    page = client.get(reverse("jobs:pod-log", args=[gone_job.pk, "j-master-0"]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="log-archived"' in body and ">archived<" in body
    assert "line 10" in body and "from the archive" in body
    assert "?download=1" in body
    assert 'id="log-follow"' not in body  # nothing to follow


def test_the_archive_rejects_outsider(api_charlie, client, charlie, gone_job):
    url = f"/api/v1/jobs/{gone_job.pk}/pods/j-master-0/log"
    assert api_charlie.get(url).status_code == 404
    assert api_charlie.get(url + "?download=1").status_code == 404
    client.force_login(charlie)
    assert client.get(reverse("jobs:pod-log", args=[gone_job.pk, "j-master-0"])).status_code == 404


def test_a_bad_cursor_is_a_400(api_alice, gone_job):
    response = api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods/j-master-0/log?sinceTime=yesterday")
    assert response.status_code == 400
    assert "sinceTime" in response.json()["error"]["fields"]


def test_a_row_whose_file_is_missing_is_no_archive(api_alice, gone_job):
    # A worker whose storage this process does not share (files on another pod).
    saved = PodLogArchive.objects.get(job=gone_job)
    saved.file.delete(save=False)
    assert archive.job_log_archive_for(job=gone_job, pod="j-master-0") is None
    response = api_alice.get(f"/api/v1/jobs/{gone_job.pk}/pods/j-master-0/log")
    assert response.status_code == 404  # the deleted job has no pods left either


def test_a_storage_failure_does_not_block_a_delete(alice, monkeypatch):
    job = TrainingJobFactory(owner=alice, running=True, manifests=[{"kind": "X"}])

    def full_disk(*, job_id):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive, "job_logs_archive", full_disk)
    services._archive_before_removal(job)  # logs, does not raise


def test_archiving_again_replaces_the_copy(alice):
    job = TrainingJobFactory(owner=alice, deleted=True)
    first = _archived(job, text="old\n")
    second = _archived(job, text="new\n")
    assert first.pk == second.pk
    assert archive.archive_text(PodLogArchive.objects.get()) == "new\n"
    second.file.delete(save=False)


# --- when archiving happens ------------------------------------------------------------------


def test_a_final_status_enqueues_archiving(alice, monkeypatch, django_capture_on_commit_callbacks):
    enqueued = []
    monkeypatch.setattr(archive, "enqueue_archive", lambda job_id, reason: enqueued.append(job_id))
    job = TrainingJobFactory(owner=alice, running=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_apply_status(job_id=job.id, status=JobStatus.SUCCEEDED, reason="Done")
    assert enqueued == [job.id]
    other = TrainingJobFactory(owner=alice, submitted=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_apply_status(job_id=other.id, status=JobStatus.RUNNING)
    assert enqueued == [job.id]  # not for a job that still runs


# --- retention ---------------------------------------------------------------------------------


def test_old_archives_are_removed(alice, settings):
    job = TrainingJobFactory(owner=alice, deleted=True)
    old = _archived(job, pod="old-0")
    new = _archived(job, pod="new-0")
    PodLogArchive.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=31))
    storage = old.file.storage
    assert storage.exists(old.file.name)
    settings.LOG_ARCHIVE_RETENTION = 30 * 86400
    assert archive.log_archive_prune() == 1
    assert not storage.exists(old.file.name)
    assert list(PodLogArchive.objects.values_list("pod", flat=True)) == ["new-0"]
    new.file.delete(save=False)


def test_the_prune_runs_on_beat():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["log-archive-prune"]
    assert entry["task"] == "jobs.tasks.log_archive_prune_task"


def test_cursors_compare_at_nanosecond_precision():
    assert _timestamp_key("2025-01-01T00:00:01.5Z") == ("2025-01-01T00:00:01", 500_000_000)
    assert _timestamp_key("2025-01-01T00:00:01Z") < _timestamp_key("2025-01-01T00:00:01.000000001Z")
    assert _timestamp_key("yesterday") is None
    assert _timestamp_key("2025-01-01T00:00:01.x1Z") is None


# --- on the testbed ------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.testbed
def test_logs_are_archived_and_outlive_the_deleted_job(engineer, celery_stack, karmada):
    from jobs.tests.test_pods import _body
    from mlplatform.testing import token_client as _token_client

    api = _token_client(engineer)
    created = api.post(
        "/api/v1/jobs", _body("archived-logs", "pytorch", "member-cluster-2"), format="json"
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    try:
        wait_for(
            lambda: api.get(f"/api/v1/jobs/{job_id}/status").json()["status"] == "Succeeded",
            timeout=90,
            message="the job to succeed",
        )
        saved = wait_for(
            lambda: PodLogArchive.objects.filter(job_id=job_id, main=True).order_by("pod").first(),
            timeout=30,
            message="the finished job's logs archived by the worker",
        )
        pod = saved.pod
        assert saved.container == "pytorch" and saved.cluster == "member-cluster-2"
        job = TrainingJob.objects.get(id=job_id)

        # Live, straight from kwok, with the cursor the page follows: Kubernetes takes
        # sinceTime to the second, the platform drops what was already seen.
        live = job_pod_log_follow(job=job, pod=pod, tail_lines=10)
        assert live.text.splitlines() == POD_LOG_LINES
        assert live.cursor and live.cursor.startswith("2025-01-01T00:00:01")
        first_stamp = karmada.member_pod_log(
            job.cluster, job.namespace, pod, tail_lines=10, container="pytorch", timestamps=True
        ).split(" ", 1)[0]
        after_first = job_pod_log_follow(job=job, pod=pod, since=first_stamp)
        assert after_first.text.splitlines() == POD_LOG_LINES[1:]
        assert job_pod_log_follow(job=job, pod=pod, since=live.cursor).text == ""
        # The archive keeps only the last bytes asked for, from a line start.
        tail, truncated = karmada.member_pod_log_tail(
            job.cluster,
            job.namespace,
            pod,
            max_bytes=len(POD_LOG_LINES[1]) + 5,
            container="pytorch",
        )
        assert truncated and tail.decode().splitlines() == POD_LOG_LINES[1:]

        # The job is final and archived: the archive answers without asking the member.
        answer = api.get(f"/api/v1/jobs/{job_id}/pods/{pod}/log").json()
        assert answer["archived"] is True and answer["log"].splitlines() == POD_LOG_LINES

        # Delete it: the pods go, the log stays.
        assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 202
        wait_for(
            lambda: TrainingJob.objects.get(id=job_id).status == JobStatus.DELETED,
            timeout=60,
            message="the job deleted",
        )
        assert api.get(f"/api/v1/jobs/{job_id}/pods").json()["pods"] == []
        gone = api.get(f"/api/v1/jobs/{job_id}/pods/{pod}/log?tailLines=1")
        assert gone.status_code == 200, gone.content
        assert gone.json()["archived"] is True
        assert gone.json()["log"].splitlines() == POD_LOG_LINES[-1:]
        whole = api.get(f"/api/v1/jobs/{job_id}/pods/{pod}/log?download=1")
        assert whole["Content-Type"].startswith("text/plain")
        assert b"".join(whole.streaming_content).decode().splitlines() == POD_LOG_LINES
        page = Client()
        page.force_login(engineer)
        html = page.get(reverse("jobs:pod-log", args=[job_id, pod])).content.decode()
        assert ">archived<" in html and POD_LOG_LINES[0] in html
    finally:
        if (
            TrainingJob.objects.filter(id=job_id)
            .exclude(status__in=["Deleting", "Deleted"])
            .exists()
        ):
            api.delete(f"/api/v1/jobs/{job_id}")
        for saved in PodLogArchive.objects.filter(job_id=job_id):
            saved.file.delete(save=False)
