"""Helpers shared by the test suites (kept out of conftest so tests can import them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], *, timeout: float, interval: float = 0.25, message: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that; fail the test
    with ``message`` and the last value seen when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s: {message} (last value: {last!r})", pytrace=False)


def token_client(user: Any) -> Any:
    """A DRF test client that sends ``user``'s API token, as scripts do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
