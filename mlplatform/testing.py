"""Helpers shared by the test suites (kept out of conftest so any test tree can import
them). Polling lives in testbed.polling, which the testbed itself uses too."""

from __future__ import annotations

from typing import Any


def token_client(user: Any) -> Any:
    """A DRF test client that sends ``user``'s API token, as scripts do."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
