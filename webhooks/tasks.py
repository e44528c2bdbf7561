"""Thin tasks: fan a status change out into deliveries, and send each one, retried with
backoff (``WEBHOOK_RETRY_BASE_SECONDS`` doubling, jittered) up to
``WEBHOOK_MAX_ATTEMPTS`` attempts. The worker's queue, not the status sync, waits for slow
receivers."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from jobs.tasks import BURST_PRIORITY
from webhooks import services


@shared_task(ignore_result=True, priority=BURST_PRIORITY)
def webhook_dispatch_task(job_id: str, status: str, reason: str = "", message: str = "") -> int:
    ids = services.webhook_dispatch(job_id=job_id, status=status, reason=reason, message=message)
    for delivery_id in ids:
        webhook_deliver_task.delay(delivery_id=delivery_id)
    return len(ids)


@shared_task(bind=True, max_retries=None, ignore_result=True, priority=BURST_PRIORITY)
def webhook_deliver_task(self: Any, delivery_id: int) -> str:
    attempt = services.webhook_deliver(delivery_id=delivery_id)
    if attempt.retry_in is not None and self.request.retries < settings.WEBHOOK_MAX_ATTEMPTS:
        raise self.retry(countdown=attempt.retry_in)
    return attempt.state
