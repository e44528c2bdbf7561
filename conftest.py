"""Shared fixtures: personas, API clients, and the real services the suite runs on.

The suite runs on real PostgreSQL and Redis (`make test` starts them through
scripts/test-services.sh). A missing service fails loudly with how to start it.
"""

from __future__ import annotations

import pytest
from django.conf import settings


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(
            "The tests run on PostgreSQL, but DATABASE_URL is unset or not postgres://. "
            "Run `make test` (it starts PostgreSQL and Redis), or start them with "
            "scripts/test-services.sh and export "
            "DATABASE_URL=postgres://mlplatform:mlplatform@127.0.0.1:5432/mlplatform"
        )


@pytest.fixture
def make_user(db, django_user_model):
    from jobs.models import NamespaceGrant

    def make(username: str, *, namespaces: tuple[str, ...] = (), staff: bool = False):
        user = django_user_model.objects.create_user(
            username=username, password=f"{username}-pass-123", is_staff=staff,
            is_superuser=staff,
        )
        for ns in namespaces:
            NamespaceGrant.objects.create(user=user, namespace=ns)
        return user

    return make


@pytest.fixture
def alice(make_user):
    """Owner: works in team-a."""
    return make_user("alice", namespaces=("team-a",))


@pytest.fixture
def bob(make_user):
    """Same team as alice."""
    return make_user("bob", namespaces=("team-a",))


@pytest.fixture
def charlie(make_user):
    """Outsider: only team-c."""
    return make_user("charlie", namespaces=("team-c",))


@pytest.fixture
def operator(make_user):
    """Platform operator: staff, sees everything."""
    return make_user("operator", staff=True)


def _api_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_alice(alice):
    return _api_client(alice)


@pytest.fixture
def api_bob(bob):
    return _api_client(bob)


@pytest.fixture
def api_charlie(charlie):
    return _api_client(charlie)


@pytest.fixture
def api_operator(operator):
    return _api_client(operator)
