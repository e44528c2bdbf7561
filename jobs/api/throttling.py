"""API rate limits per user and per client address, from settings read at request time.

DRF's own throttles copy their rates once, when the module is imported; reading them per
request lets the settings (and tests) change them. Counters live in Django's default cache:
Redis in production, so every web process counts the same requests.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    """Requests without valid credentials, per client address (a wrong token counts)."""

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_ANON


class UserThrottle(UserRateThrottle):
    """Authenticated requests, per user, whichever token or session they come with."""

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_USER
