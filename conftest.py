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
    _flush_outlives_deadlocks()


def _flush_outlives_deadlocks(attempts: int = 5) -> None:
    """Retry a transactional test's closing flush that PostgreSQL chose as a deadlock victim.

    The suite's Celery worker (``celery_stack``) keeps running between tests, so its
    admission or sync pass can hold a share lock on one table and wait for another while
    the flush's TRUNCATE holds that one and waits for the first; PostgreSQL then aborts one
    of the two. When that is the flush, the pass goes on and a second flush empties the
    tables. Any other flush failure is raised as before.
    """
    from django.core.management.base import CommandError
    from django.test import TransactionTestCase
    from psycopg.errors import DeadlockDetected

    flush = TransactionTestCase._fixture_teardown

    def fixture_teardown(self):
        for attempt in range(1, attempts + 1):
            try:
                return flush(self)
            except CommandError as exc:
                if attempt == attempts or not _caused_by(exc, DeadlockDetected):
                    raise

    TransactionTestCase._fixture_teardown = fixture_teardown


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__
    return False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs ~0.2 s per user; the tests do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    # API throttles and failed-login counters live in the cache; each test starts from an
    # empty one of its own instead of sharing Redis with the rest of the run (and with
    # earlier runs). Tests of the Redis cache itself configure it explicitly.
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def make_user(db, django_user_model):
    from jobs.models import NamespaceGrant
    from jobs.roles import operators_group

    def make(
        username: str,
        *,
        namespaces: tuple[str, ...] = (),
        staff: bool = False,
        superuser: bool = False,
        operator: bool = False,
    ):
        user = django_user_model.objects.create_user(
            username=username,
            password=f"{username}-pass-123",
            is_staff=staff or superuser,
            is_superuser=superuser,
        )
        for ns in namespaces:
            NamespaceGrant.objects.create(user=user, namespace=ns)
        if operator:
            user.groups.add(operators_group())
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
def engineer(transactional_db, django_user_model):
    """An ML engineer working in ``default``, for the end-to-end tests: committed rows
    (``transactional_db``), so a real Celery worker and the web see them."""
    from jobs.models import NamespaceGrant

    user = django_user_model.objects.create_user(username="mle", password="mle-pass-123")
    NamespaceGrant.objects.create(user=user, namespace="default")
    return user


@pytest.fixture
def operator(make_user):
    """Platform operator: in the "Platform operators" group (every namespace), and staff
    for the admin; not a superuser."""
    return make_user("operator", staff=True, operator=True)


@pytest.fixture
def dave(make_user):
    """Staff without the operator permission: admin login, but only team-c."""
    return make_user("dave", namespaces=("team-c",), staff=True)


@pytest.fixture
def root(make_user):
    """Superuser: every permission, as Django's rules give it."""
    return make_user("root", superuser=True)


@pytest.fixture
def fleet(db):
    """Two ready member clusters in the inventory: GPUs on the first, twice the CPU on the
    second."""
    from clusters.models import MemberCluster

    MemberCluster.objects.create(
        name="member-cluster-1",
        ready=True,
        cpu_allocatable=64,
        memory_allocatable_gib=256,
        gpu_allocatable=16,
    )
    MemberCluster.objects.create(
        name="member-cluster-2", ready=True, cpu_allocatable=128, memory_allocatable_gib=512
    )


def _api_client(user):
    from mlplatform.testing import token_client

    return token_client(user)


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


@pytest.fixture
def api_dave(dave):
    return _api_client(dave)


# --- the real multi-cluster testbed and a real Celery worker + beat -------------------


@pytest.fixture(scope="session")
def testbed():
    """The local Karmada testbed: started once per run (built first if needed) or reused."""
    from testbed.api import ensure_up

    try:
        return ensure_up()
    except RuntimeError as exc:
        pytest.fail(
            f"The Karmada testbed is not available: {exc}\n"
            "Start it with `make testbed-up` (logs under .testbed/logs/).",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def trainer_v2(testbed):
    """The testbed with Kubeflow Trainer v2 and JobSet running (started on first use)."""
    from testbed.api import ensure_trainer_v2

    try:
        return ensure_trainer_v2()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def karmada(testbed, settings):
    """A Karmada client for the testbed; the code under test talks to the same one."""
    from clusters.client import get_client

    settings.KARMADA_KUBECONFIG_PATH = str(testbed.karmada_kubeconfig)
    return get_client()


def _test_database_url() -> str:
    from urllib.parse import quote

    from django.db import connection

    cfg = connection.settings_dict
    auth = quote(cfg["USER"], safe="")
    if cfg.get("PASSWORD"):
        auth += ":" + quote(cfg["PASSWORD"], safe="")
    port = f":{cfg['PORT']}" if cfg.get("PORT") else ""
    host = cfg["HOST"] or "127.0.0.1"
    if host.startswith("/"):  # a Unix socket directory (TEST_ENGINES=embedded)
        host = quote(host, safe="")
    return f"postgres://{auth}@{host}{port}/{cfg['NAME']}"


@pytest.fixture(scope="session")
def celery_stack(django_db_setup, django_db_blocker, testbed, tmp_path_factory):
    """A real `celery worker --beat` process on the test database, Redis and the testbed.

    Session-scoped: the worker keeps running across tests; tests that use it need
    `transactional_db` so the rows they write are committed and visible to it.
    """
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import redis

    redis_url = settings.REDIS_URL
    if not redis_url:
        pytest.fail("REDIS_URL is unset; run the tests with `make test`.", pytrace=False)
    try:
        redis.Redis.from_url(redis_url).flushdb()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {redis_url} is not reachable ({exc}); start it with "
            "scripts/test-services.sh or run `make test`.",
            pytrace=False,
        )
    workdir = tmp_path_factory.mktemp("celery")
    log_path = Path(os.environ.get("MLPLATFORM_TEST_LOGS", workdir)) / "celery-worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": redis_url,
        "KARMADA_KUBECONFIG_PATH": str(testbed.karmada_kubeconfig),
        "MLPLATFORM_VAR_DIR": str(workdir),
        "JOB_PENDING_RESUBMIT_AFTER": "10",
        # Waits in a member show within seconds rather than the default 10.
        "JOB_INSIGHT_INTERVAL": "2s",
        # The worker archives pod logs where this process serves them from.
        "LOG_ARCHIVE_DIR": str(settings.STORAGES["log_archive"]["OPTIONS"]["location"]),
        # Webhook receivers in the tests listen on loopback; retries come quickly.
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
    }
    env.pop("DATABASE_URL_FILE", None)
    log_file = open(log_path, "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mlplatform",
            "worker",
            "--beat",
            "--loglevel=INFO",
            "--concurrency=2",
            f"--schedule={workdir / 'beat-schedule'}",
        ],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"celery worker exited with {proc.returncode}; see {log_path}:\n"
                + log_path.read_text()[-3000:],
                pytrace=False,
            )
        if "ready." in log_path.read_text():
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"celery worker did not become ready in 60s; see {log_path}", pytrace=False)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()
