"""The migration gate, run for real on a fresh PostgreSQL database with the pods' own
commands and settings: the Job's wait for the database passes, the other pods' init
container holds them back until the Job's `migrate` has run, and then lets them start."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from deploytools import BASE, REPO, by_kind, kustomize


@pytest.fixture
def fresh_database():
    """A new, empty database next to the suite's, dropped after the test."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.fail(
            "needs the suite's PostgreSQL: run scripts/test-services.sh, export DATABASE_URL"
        )
    name = f"mlp_gate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def pod_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    config = next(o for o in kustomize(BASE) if o["kind"] == "ConfigMap")["data"]
    env = dict(config)
    for name, value in (("DATABASE_URL_FILE", database_url), ("SECRET_KEY_FILE", "k" * 50)):
        path = tmp_path / name
        path.write_text(value)
        env[name] = str(path)
    env.update(
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        MLPLATFORM_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        PYTHONPATH=str(REPO),
    )
    return env


def once(command: list[str]) -> list[str]:
    """An init container's `until CMD; do …; done` loop, as a single try of CMD."""
    if command[:2] == ["sh", "-c"] and command[2].startswith("until "):
        return ["sh", "-c", command[2].removeprefix("until ").split("; do ")[0]]
    return command


def test_pods_wait_for_the_migration_job(tmp_path, fresh_database):
    objects = by_kind(kustomize(BASE))
    job = objects["Job", "mlplatform-migrate"]["spec"]["template"]["spec"]
    web = objects["Deployment", "mlplatform-web"]["spec"]["template"]["spec"]
    env = pod_env(tmp_path, fresh_database)

    def runs(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            once(command), env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )

    wait_for_db = runs(job["initContainers"][0]["command"])
    assert wait_for_db.returncode == 0, wait_for_db.stderr
    gate = web["initContainers"][0]["command"]
    assert runs(gate).returncode != 0, "the gate opened before the migration ran"
    migrate = runs(job["containers"][0]["command"])
    assert migrate.returncode == 0, migrate.stderr
    opened = runs(gate)
    assert opened.returncode == 0, opened.stderr
