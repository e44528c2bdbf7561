"""Pod logs that outlive the pods: archiving them, serving the archive, and removing old
archives.

Archiving is triggered by status transitions, never by polling: when a job reaches a final
status (``job_transition`` enqueues it after commit), before the platform deletes a job's
objects (the delete task and the TTL cleanup sweep call ``job_logs_archive`` first). Each
run costs one pod LIST plus one log read per container, for at most
``LOG_ARCHIVE_MAX_PODS`` pods, and keeps the last ``LOG_ARCHIVE_MAX_MIB`` of each log.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.client import ClusterError, get_client
from jobs.models import JobStatus, PodLogArchive, TrainingJob

log = logging.getLogger(__name__)

# The sync enqueues an archive when a job reaches one of these; Deleting and a TTL cleanup
# archive synchronously, right before the objects go.
ARCHIVE_ON_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})
# Containers per pod archived (a sidecar-heavy pod must not multiply the reads).
MAX_CONTAINERS_PER_POD = 8


def enqueue_archive(job_id: uuid.UUID | str, *, reason: str) -> None:
    from jobs.tasks import job_logs_archive_task

    try:
        job_logs_archive_task.delay(job_id=str(job_id))
    except Exception:  # broker down: the TTL sweep or the delete path archives later
        log.exception("could not enqueue archiving the logs of job %s (%s)", job_id, reason)


def _container_names(pod: dict[str, Any]) -> list[str]:
    """Containers that have started at least once: a container still waiting has no log,
    and asking for it answers 400."""
    status = pod.get("status") or {}
    started = {
        c.get("name")
        for c in status.get("containerStatuses") or []
        if (c.get("state") or {}).get("running")
        or (c.get("state") or {}).get("terminated")
        or (c.get("lastState") or {}).get("terminated")
    }
    names = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    return [n for n in names if n and n in started][:MAX_CONTAINERS_PER_POD]


def job_logs_archive(*, job_id: uuid.UUID | str) -> int:
    """Copy the log of every started container of the job's pods into the archive
    (replacing an older copy). Returns how many logs were stored. Raises a transient
    ``ClusterError`` when Karmada or the member does not answer, for the task to retry."""
    from jobs.selectors import _main_container, job_pod_selector

    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None or not job.cluster:
        return 0  # never placed: no pods, no logs
    client = get_client()
    pods = client.member_pods(job.cluster, job.namespace, job_pod_selector(job))
    max_bytes = int(settings.LOG_ARCHIVE_MAX_MIB * 1024 * 1024)
    stored = 0
    for pod in pods[: settings.LOG_ARCHIVE_MAX_PODS]:
        meta = pod.get("metadata") or {}
        name = meta.get("name", "")
        main = _main_container(meta, pod.get("spec") or {})
        for container in _container_names(pod):
            try:
                data, truncated = client.member_pod_log_tail(
                    job.cluster, job.namespace, name, max_bytes=max_bytes, container=container
                )
            except ClusterError as exc:
                if exc.permanent:  # gone meanwhile, or not started after all
                    log.info(
                        "job %s: no log to archive for %s/%s: %s", job.id, name, container, exc
                    )
                    continue
                raise
            _store(
                job,
                pod=name,
                container=container,
                main=container == main,
                phase=(pod.get("status") or {}).get("phase") or "",
                data=data,
                truncated=truncated,
            )
            stored += 1
    if stored:
        log.info("job %s: archived %d container logs", job.id, stored)
    return stored


def _store(
    job: TrainingJob,
    *,
    pod: str,
    container: str,
    main: bool,
    phase: str,
    data: bytes,
    truncated: bool,
) -> PodLogArchive:
    path = f"{job.id}/{pod}/{container}.log"
    archive = PodLogArchive.objects.filter(job=job, pod=pod, container=container).first()
    if archive is not None and archive.file:
        archive.file.delete(save=False)  # the same name again, not a renamed twin
    if archive is None:
        archive = PodLogArchive(job=job, pod=pod, container=container)
    archive.main, archive.phase, archive.cluster = main, phase, job.cluster
    archive.size, archive.truncated = len(data), truncated
    archive.file.save(path, ContentFile(data), save=False)
    try:
        with transaction.atomic():
            archive.save()
    except IntegrityError:
        # Two archivers of one job at once (the final status and a delete): the other
        # one's row stands; this copy of the file is the same log.
        archive = PodLogArchive.objects.get(job=job, pod=pod, container=container)
    return archive


def job_log_archive_for(*, job: TrainingJob, pod: str) -> PodLogArchive | None:
    """The archived log of the pod's main container (the one the log page shows)."""
    archives = list(job.log_archives.filter(pod=pod))
    found = next((a for a in archives if a.main), archives[0] if archives else None)
    if found is None:
        return None
    try:
        if found.file.storage.exists(found.file.name):
            return found
    except Exception:  # a storage that does not answer is an archive we cannot serve now
        log.exception("log archive: cannot reach the storage of %s", found.file.name)
        return None
    # A row without its file: a storage not shared between the worker that wrote it and
    # this process (files under var/ on separate pods), or a file removed by hand.
    log.warning("log archive: %s is recorded but missing from the storage", found.file.name)
    return None


def job_archived_logs(*, job: TrainingJob) -> list[PodLogArchive]:
    """The archived main-container logs of the job's pods, one per pod, by pod name."""
    return list(job.log_archives.filter(main=True).order_by("pod"))


def archive_text(archive: PodLogArchive, *, tail_lines: int | None = None) -> str:
    with archive.file.open("rb") as handle:
        text = handle.read().decode("utf-8", errors="replace")
    if tail_lines is None:
        return text
    lines = text.splitlines()
    return "\n".join(lines[-tail_lines:]) + ("\n" if lines else "")


def log_archive_prune(*, older_than: timedelta | None = None, batch: int = 500) -> int:
    """Remove archives (files and rows) kept longer than ``LOG_ARCHIVE_RETENTION``; at most
    ``batch`` per run, the next run takes the rest."""
    age = (
        older_than if older_than is not None else timedelta(seconds=settings.LOG_ARCHIVE_RETENTION)
    )
    cutoff = timezone.now() - age
    old = list(PodLogArchive.objects.filter(updated_at__lt=cutoff).order_by("updated_at")[:batch])
    for archive in old:
        try:
            archive.file.delete(save=False)
        except OSError as exc:
            log.warning("could not remove the archived log %s: %s", archive.file.name, exc)
        archive.delete()
    if old:
        log.info("log archive: removed %d logs older than %s", len(old), age)
    return len(old)
