"""Every page needs a login (Django's LoginRequiredMiddleware); these are the only views
exempt from it, each for a reason."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse


def _exempt(patterns, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names |= _exempt(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            if not getattr(entry.callback, "login_required", True):
                names.add(prefix + entry.name)
    return names


def test_only_the_public_views_skip_the_login_redirect():
    assert _exempt(get_resolver().url_patterns) == {
        # Probes, and Prometheus (bearer token or an operator's session; 401/403 itself).
        "health",
        "metrics",
        # The API authenticates each request itself and answers 401 in the one error shape
        # (DRF exempts its views); the docs page asks for a login itself.
        "api:jobs",
        "api:job-detail",
        "api:job-status",
        "api:job-resubmit",
        "api:job-pods",
        "api:job-pod-log",
        "api:job-events",
        "api:job-clone",
        "api:jobs-bulk",
        "api:clusters",
        "api:webhooks",
        "api:webhook-detail",
        "api:frameworks",
        "api:quotas",
        "api:quota-detail",
        "api:queue",
        "api:schema",
        "api:docs",
        # Signing in (Django marks these).
        "login",
        "admin:login",
    }


@pytest.mark.parametrize(
    "name",
    [
        "jobs:list",
        "jobs:create",
        "jobs:queue",
        "clusters:list",
        "webhooks:list",
        "password_reset",
        "logout",
    ],
)
def test_pages_send_an_anonymous_visitor_to_the_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_api_answers_an_anonymous_client_401_in_the_error_shape(client, db):
    response = client.get(reverse("api:jobs"))
    assert response.status_code == 401
    assert "message" in response.json()["error"]
