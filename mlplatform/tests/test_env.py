"""Configuration from the environment: the original's formats and loud failures."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlplatform.env import (
    database_config,
    envbool,
    envstr,
    libpq_to_url,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1.0), ("500ms", 0.5), ("2m", 120.0), ("3", 3.0)]
)
def test_monitor_interval_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "fast", "0s", "-1s", "1d", "1s\nx", "\u0661s"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_originals_libpq_database_url_is_understood():
    url = libpq_to_url(
        "host=postgres user=mlplatform password=changeme dbname=training_jobs sslmode=disable"
    )
    assert url == "postgres://mlplatform:changeme@postgres/training_jobs?sslmode=disable"


def test_a_password_with_spaces_survives_the_libpq_form():
    url = libpq_to_url("host=db port=5433 user=u password='p w' dbname=x")
    assert database_config(url)["PASSWORD"] == "p w"
    assert database_config(url)["PORT"] == 5433


def test_sqlite_is_used_only_when_asked_for(tmp_path):
    config = database_config(f"sqlite:///{tmp_path}/db.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/db.sqlite3"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert database_config("postgres://u@db/x")["ENGINE"] == "mlplatform.postgresql"


def test_without_database_url_a_query_says_to_set_it():
    from django.db import connections
    from django.db.utils import ConnectionHandler

    handler = ConnectionHandler({"default": database_config(None)})
    try:
        with pytest.raises(ImproperlyConfigured, match="DATABASE_URL is unset"):
            handler["default"].cursor()
    finally:
        handler.close_all()
    assert connections["default"].vendor == "postgresql"  # the suite's own is untouched


def test_libpq_escapes_and_quotes_are_libpqs_own():
    url = libpq_to_url(r"host=db user=u password='it\'s \\ ok' dbname=x")
    assert database_config(url)["PASSWORD"] == "it's \\ ok"


@pytest.mark.parametrize("dsn", ["host=db garbage", "host=db nosuchoption=1", "host='db"])
def test_a_malformed_libpq_dsn_fails_loudly(dsn):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config(dsn)


def test_secrets_can_come_from_a_mounted_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret-key"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert envstr("SECRET_KEY") == "from-a-file"


def test_an_unreadable_secret_file_fails_loudly(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        envstr("SECRET_KEY")


def test_a_bad_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        envbool("DEBUG", False)


def test_operators_can_replace_a_built_in_image(tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    env = {
        "PATH": "/usr/bin:/bin",
        "MLPLATFORM_VAR_DIR": str(tmp_path),
        "MLPLATFORM_LOCAL": "1",
        "DEFAULT_IMAGE_XGBOOST": "registry.local/ml/xgboost:2.1",
    }
    code = "import mlplatform.settings as s; print(*map(s.DEFAULT_IMAGES.get, ['xgboost', 'jax']))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["registry.local/ml/xgboost:2.1", settings.DEFAULT_IMAGES["jax"]]
