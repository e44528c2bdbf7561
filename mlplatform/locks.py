"""A cross-process lock so two periodic syncs never overlap.

Redis when the platform has it (every worker host sees the same lock), otherwise a file
lock under var/ (the single-host `make run` setup, where all workers share a disk).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from django.conf import settings


@contextlib.contextmanager
def try_lock(name: str, *, ttl: float) -> Iterator[bool]:
    """Yields True when the lock was taken, False when someone else holds it."""
    if settings.REDIS_URL:
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
        return
    path = settings.VAR_DIR / f"{name}.lock"
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
