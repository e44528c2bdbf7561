"""API rate limits per user and per client address, from settings read at request time.

DRF's own throttles copy their rates once, when the module is imported; reading them per
request lets the settings (and tests) change them. Counters live in Django's default cache:
Redis in production, so every web process counts the same requests.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from mlplatform.cache import CACHE_DOWN

log = logging.getLogger(__name__)


class _FailOpen(SimpleRateThrottle):
    """A rate limit is a guard, not a dependency: while its cache (Redis) is unreachable,
    requests go through unlimited rather than all failing with 500."""

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_DOWN as exc:
            log.warning("API rate limit not applied: the cache is unreachable (%s)", exc)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    """Requests without valid credentials, per client address (a wrong token counts)."""

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_ANON


class UserThrottle(_FailOpen, UserRateThrottle):
    """Authenticated requests, per user, whichever token or session they come with."""

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_USER
