"""Failed sign-ins limited per username and client address, for the login page and the
admin's.

A small cache-based limiter rather than a library such as django-axes: the platform needs
one rule (N failures of one username from one address within a window → 429 until the
window ends), in the same cache as the API throttles (Redis in production), answering in
the platform's own shapes; axes would add its own tables, authentication backend and
lockout responses to configure around. Counting both the username and the address keeps
one attacker from locking a user out from everywhere, while still stopping guesses at one
account from one place.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

from mlplatform.cache import CACHE_DOWN

log = logging.getLogger(__name__)

# Where sign-in forms are posted: the platform's login page and the admin's.
LOGIN_PATHS = frozenset({"/accounts/login/", "/admin/login/"})


def client_address(request: HttpRequest) -> str:
    # The same address the API's anonymous throttle uses (REMOTE_ADDR, or X-Forwarded-For
    # behind NUM_PROXIES trusted proxies).
    # get_ident reads only META, which a Django request has as a DRF one does.
    return BaseThrottle().get_ident(request)  # type: ignore[arg-type]


def _key(username: str, request: HttpRequest) -> str:
    raw = f"{username.strip().casefold()}\0{client_address(request)}"
    return "login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def failures(username: str, request: HttpRequest) -> int:
    try:
        return int(cache.get(_key(username, request)) or 0)
    except CACHE_DOWN as exc:
        # A guard, not a dependency: with Redis unreachable sign-ins still work, unlimited.
        log.warning("login limit not applied: the cache is unreachable (%s)", exc)
        return 0


def record_failure(username: str, request: HttpRequest) -> None:
    key = _key(username, request)
    window = math.ceil(settings.LOGIN_FAILURE_WINDOW)
    try:
        # The window starts at the first failure and is not extended by later ones.
        cache.add(key, 0, timeout=window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr: this failure opens a new window
            cache.add(key, 1, timeout=window)
    except CACHE_DOWN as exc:
        log.warning("failed login not counted: the cache is unreachable (%s)", exc)


@receiver(user_login_failed, dispatch_uid="mlplatform.login_limit.failed")
def _on_login_failed(sender: Any, credentials: dict, request: HttpRequest | None = None, **kw):
    username = credentials.get("username") or ""
    if request is not None and username:
        record_failure(username, request)


@receiver(user_logged_in, dispatch_uid="mlplatform.login_limit.succeeded")
def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and request.method == "POST":
        try:
            cache.delete(_key(request.POST.get("username") or user.get_username(), request))
        except CACHE_DOWN as exc:
            log.warning("failed logins not reset: the cache is unreachable (%s)", exc)


def locked_out(request: HttpRequest) -> HttpResponse:
    minutes = max(1, math.ceil(settings.LOGIN_FAILURE_WINDOW / 60))
    message = (
        f"Too many failed sign-ins for this user from your address; try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}."
    )
    if "application/json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse(
            {"error": {"message": message, "fields": {}}}, status=429
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(math.ceil(settings.LOGIN_FAILURE_WINDOW))
    return response


class LoginRateLimitMiddleware:
    """Refuses every sign-in attempt (right password or not) for a username and address
    that failed ``LOGIN_FAILURE_LIMIT`` times within ``LOGIN_FAILURE_WINDOW``: answering a
    right password would let guessing go on."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in LOGIN_PATHS:
            username = request.POST.get("username") or ""
            if username and failures(username, request) >= settings.LOGIN_FAILURE_LIMIT:
                return locked_out(request)
        return self.get_response(request)
