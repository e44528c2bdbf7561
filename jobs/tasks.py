"""Thin Celery tasks: take ids, call services.

Errors are classified honestly: a transient ClusterError (transport, timeout, 429, 5xx) is
retried with bounded exponential backoff and jitter, and the job shows when the next
attempt is; a permanent one (4xx) stops and says so; anything else is a bug, logged with its
traceback and shown on the job, never retried as if Karmada were down.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clusters.client import ClusterError
from jobs import services
from mlplatform import metrics
from mlplatform.locks import try_lock

log = logging.getLogger(__name__)


def _backoff(retries: int) -> float:
    return min(60.0, 2.0**retries) * random.uniform(0.5, 1.0)


def _retry_later(task: Any, exc: ClusterError, record: Callable[[str, datetime], None]) -> NoReturn:
    """Schedule the task's next attempt with backoff, and let the job say when it is."""
    countdown = _backoff(task.request.retries)
    record(
        f"Attempt {task.request.retries + 1} failed: {exc.message}",
        timezone.now() + timedelta(seconds=countdown),
    )
    raise task.retry(exc=exc, countdown=countdown) from exc


# Submissions, deletions and what follows a job's end (its pods read once, its logs archived,
# webhooks) come in bursts of hundreds; the one-second status sync must not wait behind them
# (it expires after a second, so it would simply not run while a burst drains). With the
# Redis broker a lower number is served first: the sync and the sweeps keep Celery's
# default, 0; these go after them.
BURST_PRIORITY = 6
# What follows a job's end and only describes it (its pods read once, its logs archived):
# after submissions, which decide how soon the next jobs run.
FOLLOW_UP_PRIORITY = 9


@shared_task(bind=True, max_retries=None, ignore_result=True, priority=BURST_PRIORITY)
def job_submit_task(self, job_id: str, token: str | None = None) -> str:
    try:
        return services.job_submit(job_id=job_id, token=token)
    except ClusterError as exc:
        # Permanent errors never get here: job_submit marks the job SubmitFailed.
        attempt = self.request.retries + 1
        if self.request.retries >= settings.JOB_SUBMIT_MAX_RETRIES:
            log.warning("job %s: giving up submitting after %d attempts: %s", job_id, attempt, exc)
            services.job_submit_gave_up(job_id=job_id, message=exc.message, token=token)
            return "gave-up"
        _retry_later(
            self,
            exc,
            lambda message, at: services.job_submit_retry_scheduled(
                job_id=job_id, token=token, message=message, at=at
            ),
        )
    except Exception as exc:
        log.exception("job %s: internal error while submitting", job_id)
        services.job_task_crashed(job_id=job_id, action="submitting", exc=exc)
        return "crashed"


@shared_task(bind=True, max_retries=None, ignore_result=True, priority=BURST_PRIORITY)
def job_delete_task(self, job_id: str) -> str:
    try:
        return services.job_finish_delete(job_id=job_id)
    except ClusterError as exc:
        attempt = self.request.retries + 1
        if exc.permanent:
            log.warning("job %s: Karmada refused the delete: %s", job_id, exc)
            services.job_delete_failed(job_id=job_id, message=exc.message)
            return "refused"
        if self.request.retries >= settings.JOB_SUBMIT_MAX_RETRIES:
            # The sweep starts a new chain for jobs whose delete is overdue.
            services.job_delete_retry_scheduled(
                job_id=job_id,
                message=f"Attempt {attempt} failed: {exc.message}; retrying later",
                at=timezone.now() + timedelta(seconds=settings.JOB_PENDING_RESUBMIT_AFTER),
            )
            return "gave-up"
        _retry_later(
            self,
            exc,
            lambda message, at: services.job_delete_retry_scheduled(
                job_id=job_id, message=message, at=at
            ),
        )
    except Exception as exc:
        log.exception("job %s: internal error while deleting", job_id)
        services.job_task_crashed(job_id=job_id, action="deleting", exc=exc)
        return "crashed"


@shared_task(ignore_result=True)
def job_status_sync_task() -> int:
    # Never two syncs at once: a slow pass makes the next tick a no-op instead of a pile-up.
    # The lock outlives the longest pass the budget allows, so it never expires mid-pass.
    with try_lock("job-status-sync", ttl=services.sync_lock_ttl()) as got:
        if not got:
            log.debug("status sync: the previous pass is still running")
            metrics.count("status_sync_overlaps")
            return -1
        queries = _QueryCounter()
        try:
            with metrics.timed("status_sync_seconds"), connection.execute_wrapper(queries):
                return services.job_status_sync()
        except ClusterError:
            # job_status_sync has recorded the outage and logged its start; a line per
            # second of an outage would drown the log.
            return -1
        finally:
            metrics.count("status_sync_passes")
            metrics.count("status_sync_queries", n=queries.count)


class _QueryCounter:
    """Counts the database queries run inside it (``connection.execute_wrapper``): the
    sync's cost per pass, which must not grow with the number of jobs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@shared_task(bind=True, max_retries=3, ignore_result=True, priority=FOLLOW_UP_PRIORITY)
def job_insight_capture_task(self, job_id: str) -> bool:
    """Read a job's pods once as it ends; a member that does not answer is asked again a
    few times, then left to the insight pass."""
    try:
        return services.job_insight_capture(job_id=job_id)
    except ClusterError as exc:
        if self.request.retries >= self.max_retries:
            log.info("job %s: pod insight not captured: %s", job_id, exc)
            return False
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries + 1)) from exc


@shared_task(ignore_result=True)
def job_insight_sync_task() -> int:
    with try_lock("job-insight-sync", ttl=services.sync_lock_ttl()) as got:
        if not got:
            return -1
        try:
            return services.job_insight_sync()
        except ClusterError as exc:
            log.info("insight pass: Karmada is not answering: %s", exc)
            return -1


@shared_task(ignore_result=True)
def job_pending_sweep_task() -> dict[str, int]:
    return services.job_pending_sweep()


@shared_task(ignore_result=True)
def job_cleanup_sweep_task(orphans: bool = False) -> dict[str, int] | None:
    # Expired TTLs every few seconds (a database query); orphans, which need a LIST of every
    # kind, on their own slower schedule (settings.CELERY_BEAT_SCHEDULE).
    name = "job-orphan-sweep" if orphans else "job-cleanup-sweep"
    with try_lock(name, ttl=services.sync_lock_ttl() * 4) as got:
        if not got:
            return None
        try:
            return services.job_cleanup_sweep(orphans=orphans)
        except ClusterError as exc:
            log.warning("cleanup sweep: Karmada is not answering, next sweep retries: %s", exc)
            return None


@shared_task(ignore_result=True)
def queue_admit_task() -> dict[str, int] | None:
    # The advisory lock inside keeps passes correct; this one only keeps a burst of job
    # ends from stacking up passes that would each wait for the previous one.
    with try_lock("queue-admit", ttl=60) as got:
        if not got:
            return None
        from jobs import queue

        return queue.queue_admit()


@shared_task(bind=True, max_retries=3, ignore_result=True, priority=FOLLOW_UP_PRIORITY)
def job_logs_archive_task(self, job_id: str) -> int:
    """Archive a finished job's pod logs; a few retries with backoff while Karmada or the
    member does not answer (the delete path and the TTL sweep archive again if needed)."""
    from jobs import archive

    try:
        return archive.job_logs_archive(job_id=job_id)
    except ClusterError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            log.warning("job %s: could not archive the pod logs: %s", job_id, exc)
            return 0
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries + 2)) from exc


@shared_task(ignore_result=True)
def log_archive_prune_task() -> int:
    from jobs import archive

    return archive.log_archive_prune()
