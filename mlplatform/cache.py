"""What an unreachable cache raises, for the callers that must keep working without it."""

from __future__ import annotations

import redis

# Django's Redis cache lets redis-py's errors through (connection refused, timeouts).
CACHE_DOWN: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
