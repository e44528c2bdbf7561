"""Thin Celery tasks: take ids, call services. Only transient cluster errors are retried,
with bounded exponential backoff and jitter."""

from __future__ import annotations

import random

from celery import shared_task
from django.conf import settings

from clusters.client import ClusterError
from jobs import services
from mlplatform.locks import try_lock


def _backoff(retries: int) -> float:
    return min(60.0, 2.0**retries) * random.uniform(0.5, 1.0)


@shared_task(bind=True, max_retries=None, ignore_result=True)
def job_submit_task(self, job_id: str) -> str:
    try:
        return services.job_submit(job_id=job_id)
    except ClusterError as exc:
        if exc.permanent:
            raise
        if self.request.retries >= settings.JOB_SUBMIT_MAX_RETRIES:
            services.job_submit_gave_up(job_id=job_id, message=exc.message)
            return "gave-up"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, max_retries=None, ignore_result=True)
def job_delete_task(self, job_id: str) -> str:
    try:
        return services.job_finish_delete(job_id=job_id)
    except ClusterError as exc:
        if self.request.retries >= settings.JOB_SUBMIT_MAX_RETRIES:
            return "gave-up"  # the sweep re-enqueues jobs stuck in Deleting
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(ignore_result=True)
def job_status_sync_task() -> int:
    # Never two syncs at once: a slow pass makes the next tick a no-op instead of a pile-up.
    with try_lock("job-status-sync", ttl=max(settings.JOB_MONITOR_INTERVAL * 10, 30)) as got:
        if not got:
            return -1
        try:
            return services.job_status_sync()
        except ClusterError:
            return -1


@shared_task(ignore_result=True)
def job_pending_sweep_task() -> dict[str, int]:
    return services.job_pending_sweep()
