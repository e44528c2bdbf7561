"""Prometheus metrics at ``/metrics``.

What the platform knows from its database (jobs by status) and from Redis (the Celery
queue) is read when Prometheus scrapes. What happens inside the worker and beat processes
(sync passes, status lag, submit latency, Karmada errors) is recorded into Redis as it
happens, so that every process's observations add up in one place whichever web process
answers the scrape — the usual in-process registry would only see the web process's own.

Recording never gets in the way of the work: without Redis, or when Redis does not
answer, an observation is dropped.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

log = logging.getLogger(__name__)

PREFIX = "mlplatform:metrics"
# Seconds: from a sub-second sync pass to a status that took minutes to arrive.
BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip

HISTOGRAMS = {
    "status_sync_seconds": "Wall time of one status-sync pass.",
    "status_sync_watch_seconds": "The part of a status-sync pass spent bringing its "
    "watched streams up to date (reading Karmada and the members through it).",
    "status_lag_seconds": "From a workload's condition change on its member to the "
    "platform's history entry for it.",
    "submit_latency_seconds": "From a job's creation to its objects existing on Karmada.",
}
COUNTERS = {
    "karmada_errors": ("Failed Karmada requests, by request kind.", "call"),
    "karmada_requests": ("Requests the platform sent to Karmada, by request kind.", "call"),
    "status_sync_overlaps": ("Sync ticks that found the previous pass still running.", None),
    "status_sync_passes": ("Status-sync passes run.", None),
    "status_sync_queries": ("Database queries made by status-sync passes, in total.", None),
}

_redis_client = None


def _redis():
    global _redis_client
    if not settings.REDIS_URL:
        return None
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
    return _redis_client


def observe(name: str, seconds: float) -> None:
    """Add one observation to the histogram ``name``."""
    conn = _redis()
    if conn is None:
        return
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    key = f"{PREFIX}:h:{name}"
    try:
        pipe = conn.pipeline(transaction=False)
        pipe.hincrby(key, bucket, 1)
        pipe.hincrbyfloat(key, "sum", max(seconds, 0.0))
        pipe.execute()
    except Exception as exc:  # metrics must never break the work they describe
        log.debug("metrics: dropped an observation of %s: %s", name, exc)


def count(name: str, label: str = "", n: int = 1) -> None:
    """Add ``n`` to the counter ``name`` (for ``label``, when the counter has one)."""
    conn = _redis()
    if conn is None:
        return
    try:
        conn.hincrby(f"{PREFIX}:c:{name}", label or "_", n)
    except Exception as exc:
        log.debug("metrics: dropped a count of %s: %s", name, exc)


@contextmanager
def timed(name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        observe(name, time.monotonic() - started)


class _PlatformCollector:
    def collect(self):
        from jobs.models import JobStatus, TrainingJob

        jobs = GaugeMetricFamily("mlplatform_jobs", "Jobs by platform status.", labels=["status"])
        counts = dict(TrainingJob.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in JobStatus.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        # The platform's own queue (jobs waiting for quota or room, not on Karmada), per
        # namespace; the broker's backlog is mlplatform_celery_queue_length below.
        queued = GaugeMetricFamily(
            "mlplatform_queued_jobs",
            "Jobs waiting in the platform's queue (Queued), by namespace.",
            labels=["namespace"],
        )
        waiting = (
            TrainingJob.objects.filter(status=JobStatus.QUEUED)
            .order_by()
            .values_list("namespace")
            .annotate(n=Count("id"))
        )
        for namespace, n in waiting:
            queued.add_metric([namespace], n)
        yield queued

        conn = _redis()
        if conn is None:
            return
        try:
            # The Redis broker keeps one list per priority step: celery, celery:3, ...
            depth = sum(conn.llen(q) for q in ("celery", "celery:3", "celery:6", "celery:9"))
            histograms = {name: conn.hgetall(f"{PREFIX}:h:{name}") for name in HISTOGRAMS}
            counters = {name: conn.hgetall(f"{PREFIX}:c:{name}") for name in COUNTERS}
        except Exception as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            return
        queue = GaugeMetricFamily(
            "mlplatform_celery_queue_length", "Tasks waiting in the broker.", labels=["queue"]
        )
        queue.add_metric(["celery"], depth)
        yield queue
        for name, help_text in HISTOGRAMS.items():
            raw = {k.decode(): v.decode() for k, v in histograms[name].items()}
            cumulative, buckets = 0, []
            for bound in [*map(str, BUCKETS), "+Inf"]:
                cumulative += int(raw.get(bound, 0))
                buckets.append((bound, cumulative))
            family = HistogramMetricFamily(f"mlplatform_{name}", help_text)
            family.add_metric([], buckets, sum_value=float(raw.get("sum", 0.0)))
            yield family
        for name, (help_text, label) in COUNTERS.items():
            family = CounterMetricFamily(
                f"mlplatform_{name}", help_text, labels=[label] if label else []
            )
            for key, value in counters[name].items():
                family.add_metric([key.decode()] if label else [], int(value))
            if not counters[name] and not label:
                family.add_metric([], 0)
            yield family


def _authorized(request: HttpRequest) -> int:
    """200, or the status that refuses the request: 401 without credentials, 403 with
    credentials that do not allow reading the metrics."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = settings.METRICS_TOKEN
        given = header.removeprefix("Bearer ").strip()
        return 200 if token and hmac.compare_digest(given, token) else 403
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 401
    return 200 if user.has_perm("jobs.operate_all_namespaces") else 403


@login_not_required  # scrapers send a bearer token; the view answers 401/403 itself
def metrics_view(request: HttpRequest) -> HttpResponse:
    status = _authorized(request)
    if status != 200:
        message = (
            "Send Authorization: Bearer <METRICS_TOKEN>, or sign in as a platform operator."
            if status == 401
            else "These credentials may not read the platform's metrics."
        )
        return JsonResponse({"error": {"message": message}}, status=status)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_PlatformCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
