"""Production settings: the secret key, HTTPS, API throttling and failed-login limits."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from mlplatform.testing import token_client as _api_client


def _import_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "MLPLATFORM_VAR_DIR": str(tmp_path / "var")}
    return subprocess.run(
        [sys.executable, "-c", "import mlplatform.settings as s; print(len(s.SECRET_KEY))"],
        env={**base, **env},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


# --- SECRET_KEY -----------------------------------------------------------------------


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _import_settings(tmp_path, DEBUG="false")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr and "SECRET_KEY_FILE" in result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


def test_a_local_run_generates_and_keeps_its_key(tmp_path):
    first = _import_settings(tmp_path, MLPLATFORM_LOCAL="1")
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "var" / "secret_key").read_text()
    assert _import_settings(tmp_path, MLPLATFORM_LOCAL="1").returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == key


def test_the_key_may_come_from_a_file(tmp_path):
    path = tmp_path / "key"
    path.write_text("k" * 60 + "\n")
    result = _import_settings(tmp_path, SECRET_KEY_FILE=str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "60"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_THROTTLE_USER", "lots"),
        ("API_THROTTLE_ANON", "10/fortnight"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
        ("SECURE_HSTS_SECONDS", "a year"),
        ("POD_SECURITY_LEVEL", "strict"),
    ],
)
def test_a_bad_value_stops_start_up_naming_it(tmp_path, name, value):
    result = _import_settings(tmp_path, MLPLATFORM_LOCAL="1", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr and "ImproperlyConfigured" in result.stderr


# --- HTTPS ----------------------------------------------------------------------------


def test_ssl_redirect_spares_the_health_probe(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "healthy"}
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"].startswith("https://")
    # Prometheus scrapes the pod over plain HTTP too: answered (here: 403, no token), not moved.
    assert client.get("/metrics").status_code in (200, 401, 403)


def test_the_proxy_header_marks_a_request_secure(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=3600"


# --- API throttling -------------------------------------------------------------------


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["fields"] == {}
    assert "throttled" in body["error"]["message"]
    assert int(response["Retry-After"]) > 0


def test_a_user_over_the_rate_gets_429(settings, alice, bob):
    settings.API_THROTTLE_USER = "3/min"
    api = _api_client(alice)
    for _ in range(3):
        assert api.get("/api/v1/jobs").status_code == 200
    _assert_throttled(api.get("/api/v1/jobs"))
    # Per user: bob, from the same address, is not held up by alice.
    assert _api_client(bob).get("/api/v1/jobs").status_code == 200


def test_anonymous_requests_and_wrong_tokens_are_throttled(settings, db, client):
    settings.API_THROTTLE_ANON = "3/min"
    assert client.get("/api/v1/jobs").status_code == 401
    wrong = {"HTTP_AUTHORIZATION": "Token " + "0" * 40}
    assert client.get("/api/v1/jobs", **wrong).status_code == 401
    assert client.get("/api/v1/jobs", **wrong).status_code == 401
    _assert_throttled(client.get("/api/v1/jobs", **wrong))
    _assert_throttled(client.get("/api/v1/jobs"))
    # Another address is counted on its own.
    assert client.get("/api/v1/jobs", REMOTE_ADDR="10.9.8.7").status_code == 401


def test_health_is_never_throttled(settings, db, client):
    settings.API_THROTTLE_ANON = "1/min"
    for _ in range(5):
        assert client.get("/health").status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(settings, db, client):
    settings.API_THROTTLE_ANON = "2/min"
    for n in range(2):
        client.get("/api/v1/jobs", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    _assert_throttled(client.get("/api/v1/jobs", HTTP_X_FORWARDED_FOR="192.0.2.99"))


def test_the_counters_live_in_redis_when_there_is_one(settings, alice):
    """With REDIS_URL the settings put the cache in Redis, so every web process counts the
    same requests: the counter is visible to any other client of that Redis."""
    import redis

    import mlplatform.settings as configured

    assert configured.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert configured.CACHES["default"]["LOCATION"] == django_settings.REDIS_URL
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {**configured.CACHES["default"], "KEY_PREFIX": prefix}}
    settings.API_THROTTLE_USER = "2/min"
    api = _api_client(alice)
    api.get("/api/v1/jobs")
    api.get("/api/v1/jobs")
    other = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = other.keys(f"{prefix}:*throttle_user_{alice.pk}")
    try:
        assert keys, other.keys(f"{prefix}:*")
        _assert_throttled(api.get("/api/v1/jobs"))
    finally:
        for key in other.keys(f"{prefix}:*"):
            other.delete(key)


# --- failed logins --------------------------------------------------------------------


def _login(client, username: str, password: str, *, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def test_failed_logins_lock_the_username_at_that_address(settings, client, alice, bob):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert _login(client, "alice", "wrong").status_code == 200  # the form, with an error
    # Locked: even the right password is refused, or guessing could go on.
    locked = _login(client, "alice", "alice-pass-123")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert int(locked["Retry-After"]) == int(settings.LOGIN_FAILURE_WINDOW)
    # Another user from this address, and alice from another address, may sign in.
    assert _login(client, "bob", "bob-pass-123").status_code == 302
    client.logout()
    assert _login(client, "alice", "alice-pass-123", REMOTE_ADDR="10.1.1.1").status_code == 302


def test_the_admin_login_is_limited_too(settings, client, root):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        assert _login(client, "root", "wrong", path="/admin/login/").status_code == 200
    response = _login(client, "root", "root-pass-123", path="/admin/login/")
    assert response.status_code == 429
    # The limit is per username, not per form: the other login page is locked as well.
    assert _login(client, "root", "root-pass-123").status_code == 429


def test_a_json_client_gets_the_error_shape(settings, client, alice):
    settings.LOGIN_FAILURE_LIMIT = 1
    _login(client, "alice", "wrong")
    response = _login(client, "alice", "wrong", HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert response.json() == {
        "error": {
            "message": "Too many failed sign-ins for this user from your address; try again "
            "in 15 minutes.",
            "fields": {},
        }
    }


def test_a_successful_login_clears_the_count(settings, client, alice):
    settings.LOGIN_FAILURE_LIMIT = 2
    _login(client, "alice", "wrong")
    assert _login(client, "alice", "alice-pass-123").status_code == 302
    client.logout()
    _login(client, "alice", "wrong")
    # One failure since the success: not locked.
    assert _login(client, "alice", "alice-pass-123").status_code == 302


def test_the_login_page_still_works(client, alice):
    assert client.get(reverse("login")).status_code == 200
    assert _login(client, "alice", "alice-pass-123").status_code == 302


def test_the_schema_documents_the_429(alice):
    schema = _api_client(alice).get("/api/schema?format=json").json()
    operations = [
        op for path in schema["paths"].values() for op in path.values() if isinstance(op, dict)
    ]
    with_credentials = [op for op in operations if op.get("operationId") != "health"]
    assert with_credentials and all("429" in op["responses"] for op in with_credentials)


def test_failed_logins_count_in_redis_when_there_is_one(settings, client, alice):
    import redis

    import mlplatform.settings as configured

    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {**configured.CACHES["default"], "KEY_PREFIX": prefix}}
    settings.LOGIN_FAILURE_LIMIT = 2
    other = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        _login(client, "alice", "wrong")
        _login(client, "alice", "wrong")
        (key,) = other.keys(f"{prefix}:*login-failures:*")
        assert int(other.get(key)) == 2
        assert 0 < other.ttl(key) <= int(settings.LOGIN_FAILURE_WINDOW)
        assert _login(client, "alice", "alice-pass-123").status_code == 429
    finally:
        for key in other.keys(f"{prefix}:*"):
            other.delete(key)


@pytest.fixture
def unreachable_cache(settings):
    # A real refusal: nothing listens on port 1.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_the_api_works_unlimited_while_redis_is_down(unreachable_cache, settings, alice, caplog):
    settings.API_THROTTLE_USER = "1/min"
    api = _api_client(alice)
    assert [api.get("/api/v1/jobs").status_code for _ in range(3)] == [200, 200, 200]
    assert "rate limit not applied" in caplog.text


def test_sign_in_works_while_redis_is_down(unreachable_cache, settings, client, alice, caplog):
    settings.LOGIN_FAILURE_LIMIT = 1
    assert _login(client, "alice", "wrong").status_code == 200
    assert _login(client, "alice", "alice-pass-123").status_code == 302
    assert "the cache is unreachable" in caplog.text
