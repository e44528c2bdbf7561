"""Webhooks: registering endpoints, and notifying them of job status changes.

A status change never waits for a receiver: ``notify_on_commit`` (called by
``jobs.services.job_transition``) only enqueues a task after the change is committed; the
task writes one ``WebhookDelivery`` per matching webhook and enqueues each delivery, which
is retried with backoff by Celery until it succeeds or runs out of attempts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import urllib3
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from jobs.exceptions import SpecError
from jobs.models import JobStatus, TrainingJob
from jobs.namespaces import system_namespace_rule
from jobs.selectors import user_can_use_namespace
from webhooks.models import DeliveryState, Webhook, WebhookDelivery, default_statuses
from webhooks.urlcheck import UnsafeUrl, check_url

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Mlplatform-Signature"
SECRET_MIN, SECRET_MAX = 16, 200


# --- reading ------------------------------------------------------------------------------


def webhook_list(*, user: User | AnonymousUser) -> QuerySet[Webhook]:
    """The user's own webhooks: nobody else's, whatever their namespaces."""
    if not user.is_authenticated:
        return Webhook.objects.none()
    return Webhook.objects.filter(owner=user)


def webhook_get(*, user: User | AnonymousUser, webhook_id: Any) -> Webhook:
    """``Webhook.DoesNotExist`` for another user's webhook too (404, like jobs)."""
    try:
        pk = int(str(webhook_id))
    except ValueError:
        raise Webhook.DoesNotExist from None
    return webhook_list(user=user).get(pk=pk)


def last_deliveries(webhooks: list[Webhook]) -> dict[int, WebhookDelivery]:
    """Each webhook's latest delivery (one query)."""
    latest: dict[int, WebhookDelivery] = {}
    ids = [w.pk for w in webhooks]
    for delivery in (
        WebhookDelivery.objects.filter(webhook_id__in=ids)
        .order_by("webhook_id", "-created_at", "-id")
        .distinct("webhook_id")
    ):
        latest[delivery.webhook_id] = delivery
    return latest


# --- writing ------------------------------------------------------------------------------


def webhook_create(*, user: User | AnonymousUser, data: Any) -> Webhook:
    """Validate and store a webhook. ``data``: ``url``, ``secret``, ``namespace``,
    ``statuses`` (default: the final ones), optional ``email``. Every problem is reported
    at once, by field, as for a job."""
    if not isinstance(data, dict):
        raise SpecError({"body": ["Expected a JSON object."]}, message="Invalid webhook.")
    if not isinstance(user, User):
        raise SpecError({}, message="Sign in first.", status_code=401)
    known = {"url", "secret", "namespace", "statuses", "email"}
    errors: dict[str, list[str]] = {
        key: ["Unknown field."] for key in list(data)[:20] if key not in known
    }
    namespace = data.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        errors["namespace"] = ["Required: the namespace whose jobs you want to hear about."]
    elif len(namespace) > 63 or system_namespace_rule(namespace):
        errors["namespace"] = [f"'{namespace[:63]}' cannot have jobs."]
    elif not user_can_use_namespace(user=user, namespace=namespace):
        raise SpecError(
            {"namespace": [f"You have no access to namespace '{namespace}'."]},
            message="You may not watch jobs in this namespace.",
            status_code=403,
        )
    url = data.get("url") or ""
    email = data.get("email") or ""
    secret = data.get("secret") or ""
    if not isinstance(url, str) or len(url) > 2000:
        errors["url"] = ["Must be a URL of at most 2000 characters."]
        url = ""
    elif url:
        try:
            check_url(url)
        except UnsafeUrl as exc:
            errors["url"] = [str(exc)]
    if not isinstance(email, str) or (email and ("@" not in email or len(email) > 254)):
        errors["email"] = ["Must be an e-mail address."]
        email = ""
    if not url and not email and "url" not in errors and "email" not in errors:
        errors["url"] = ["Give a URL, an e-mail address, or both."]
    if url:
        if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
            errors["secret"] = [
                f"Required with a URL: {SECRET_MIN} to {SECRET_MAX} characters, used to sign "
                "each delivery."
            ]
    elif secret and not isinstance(secret, str):
        errors["secret"] = ["Must be a string."]
    statuses = data.get("statuses")
    if statuses is None:
        statuses = default_statuses()
    elif (
        not isinstance(statuses, list)
        or not statuses
        or len(statuses) > len(JobStatus.values)
        or not all(isinstance(s, str) for s in statuses)
    ):
        errors["statuses"] = [f"A non-empty list of: {', '.join(JobStatus.values)}."]
    else:
        unknown = [s for s in statuses if s not in JobStatus.values]
        if unknown:
            errors["statuses"] = [
                f"Unknown status {unknown[0][:40]!r}; one of: {', '.join(JobStatus.values)}."
            ]
    if Webhook.objects.filter(owner=user).count() >= settings.WEBHOOK_MAX_PER_USER:
        errors.setdefault("body", []).append(
            f"You have {settings.WEBHOOK_MAX_PER_USER} webhooks already; delete one first."
        )
    if errors:
        raise SpecError(errors, message="The webhook is invalid.")
    assert isinstance(namespace, str)  # checked above: errors were raised otherwise
    return Webhook.objects.create(
        owner=user,
        namespace=namespace,
        url=url,
        secret=secret if url else "",
        email=email,
        statuses=sorted(set(statuses)),
    )


def webhook_delete(*, webhook: Webhook) -> None:
    webhook.delete()


# --- notifying ----------------------------------------------------------------------------


# Within ``listeners_read_once()``: the statuses some webhook listens to, read on first need.
_listened: ContextVar[list[frozenset[str]] | None] = ContextVar("webhook_listened", default=None)


@contextmanager
def listeners_read_once() -> Iterator[None]:
    """For a caller that moves many jobs at once (a status-sync pass): which statuses have
    listeners is read once, by the first transition that asks, not once per transition. A
    webhook registered during the pass is heard from the next pass on."""
    token = _listened.set([])
    try:
        yield
    finally:
        _listened.reset(token)


def _someone_listens(status: str) -> bool:
    snapshot = _listened.get()
    if snapshot is None:
        return Webhook.objects.filter(statuses__contains=[status]).exists()
    if not snapshot:
        listened = Webhook.objects.values_list("statuses", flat=True).distinct()
        snapshot.append(frozenset(s for statuses in listened for s in statuses))
    return status in snapshot[0]


def notify_on_commit(*, job_id: uuid.UUID, status: str, reason: str, message: str) -> None:
    """Called inside the transaction that changed a job's status: once it commits, enqueue
    the fan-out. Cheap when nobody listens: one indexed query on a small table (or none,
    within ``listeners_read_once``), no message."""
    if not _someone_listens(status):
        return

    def enqueue() -> None:
        from webhooks.tasks import webhook_dispatch_task

        try:
            webhook_dispatch_task.delay(
                job_id=str(job_id), status=status, reason=reason, message=message[:1000]
            )
        except Exception:  # broker down: this notification is lost, the job is not
            log.exception("could not enqueue notifications for job %s (%s)", job_id, status)

    transaction.on_commit(enqueue)


def job_page_url(job: TrainingJob) -> str:
    return settings.PUBLIC_BASE_URL + reverse("jobs:detail", args=[job.pk])


def delivery_body(job: TrainingJob, *, status: str, reason: str, message: str) -> str:
    payload = {
        "id": str(job.id),
        "name": job.name,
        "namespace": job.namespace,
        "status": status,
        "reason": reason,
        "message": message,
        # Added to jobs by the failure analysis; null where a job has none.
        "failureSummary": getattr(job, "failure_summary", None) or None,
        "cluster": job.cluster,
        "url": job_page_url(job),
        "time": timezone.now().isoformat(),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_dispatch(*, job_id: str, status: str, reason: str, message: str) -> list[int]:
    """One delivery per webhook listening to the job's namespace and this status whose
    owner may still see the namespace; returns the delivery ids to send."""
    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None:
        return []
    hooks = Webhook.objects.filter(
        namespace=job.namespace, statuses__contains=[status]
    ).select_related("owner")
    body = delivery_body(job, status=status, reason=reason, message=message)
    ids = []
    for hook in hooks:
        if not hook.owner.is_active or not user_can_use_namespace(
            user=hook.owner, namespace=job.namespace
        ):
            continue  # access was taken away since it registered
        for channel in ("webhook", "email"):
            if (channel == "webhook" and hook.url) or (channel == "email" and hook.email):
                delivery = WebhookDelivery.objects.create(
                    webhook=hook, job=job, channel=channel, status=status, body=body
                )
                ids.append(delivery.pk)
    return ids


@dataclass(frozen=True)
class Attempt:
    """What one delivery attempt did: ``retry_in`` seconds when it should be tried again."""

    state: str
    retry_in: float | None = None


def retry_delay(attempts: int) -> float:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return min(3600.0, base * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.0)


_http = urllib3.PoolManager(retries=False)


def webhook_deliver(*, delivery_id: int) -> Attempt:
    """Send one delivery once; record the attempt. Safe to run twice: a delivered or
    failed delivery is left alone."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("webhook")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != DeliveryState.PENDING:
            return Attempt(state=delivery.state if delivery else "missing")
        delivery.attempts += 1
        attempt = delivery.attempts
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=attempt)
    hook = delivery.webhook
    code: int | None = None
    try:
        if delivery.channel == "email":
            _send_email(hook, delivery)
        else:
            code = _post(hook, delivery.body)
        error = "" if code is None or 200 <= code < 300 else f"HTTP {code}"
    except UnsafeUrl as exc:
        error = f"Refused: {exc}"
        return _finish(delivery, state=DeliveryState.FAILED, code=None, error=error)
    except Exception as exc:  # every transport failure is one more attempt
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
    if not error:
        return _finish(delivery, state=DeliveryState.DELIVERED, code=code, error="")
    if attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        log.warning("webhook delivery %s failed for good after %d attempts", delivery.pk, attempt)
        return _finish(delivery, state=DeliveryState.FAILED, code=code, error=error)
    delay = retry_delay(attempt)
    _finish(
        delivery,
        state=DeliveryState.PENDING,
        code=code,
        error=error,
        next_at=timezone.now() + timedelta(seconds=delay),
    )
    return Attempt(state=DeliveryState.PENDING, retry_in=delay)


def _finish(
    delivery: WebhookDelivery,
    *,
    state: str,
    code: int | None,
    error: str,
    next_at: datetime | None = None,
) -> Attempt:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state,
        response_code=code,
        last_error=error,
        next_attempt_at=next_at,
        delivered_at=timezone.now() if state == DeliveryState.DELIVERED else None,
        updated_at=timezone.now(),
    )
    return Attempt(state=state)


def _post(hook: Webhook, body: str) -> int:
    check_url(hook.url)  # again: DNS may point elsewhere than at registration
    raw = body.encode()
    response = _http.request(
        "POST",
        hook.url,
        body=raw,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "mlplatform-webhooks/1",
            SIGNATURE_HEADER: sign(raw, hook.secret),
        },
        timeout=urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT),
        redirect=False,
        preload_content=False,
    )
    try:
        return response.status
    finally:
        response.release_conn()


def _send_email(hook: Webhook, delivery: WebhookDelivery) -> None:
    payload = json.loads(delivery.body)
    subject = f"[mlplatform] {payload['namespace']}/{payload['name']}: {payload['status']}"
    lines = [
        f"Job {payload['name']} in {payload['namespace']} is {payload['status']}.",
        f"Reason: {payload['reason'] or '-'}",
    ]
    if payload.get("failureSummary"):
        lines.append(f"Failure: {payload['failureSummary']}")
    if payload.get("message"):
        lines.append(payload["message"])
    lines.append(payload["url"])
    send_mail(subject, "\n".join(lines), None, [hook.email])
