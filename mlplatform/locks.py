"""A cross-process lock so two periodic syncs never overlap, held in Redis so that every
worker host sees the same lock (`make run` included: it starts an embedded Redis)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@contextlib.contextmanager
def try_lock(name: str, *, ttl: float) -> Iterator[bool]:
    """Yields True when the lock was taken, False when someone else holds it."""
    if not settings.REDIS_URL:
        raise ImproperlyConfigured("REDIS_URL is unset: the sync lock lives in Redis")
    import redis

    conn = redis.Redis.from_url(settings.REDIS_URL)
    # The TTL frees the lock if its holder dies mid-sync.
    lock = conn.lock(f"mlplatform:lock:{name}", timeout=ttl, blocking=False)
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                lock.release()
