"""The fault suite's session: its own testbed, PostgreSQL, Redis, gunicorn, worker and beat.

Run it with `make test-faults`. It never touches the everyday suite's services: the
testbed lives in TESTBED_HOME (default `.testbed-faults/`) on TESTBED_PORT_BASE (default
24000: below Linux's ephemeral range, 32768 and up, where outgoing connections would take
the ports), and PostgreSQL, Redis and gunicorn listen on that base + 90, 91 and 92. Logs of
every process go to `test-artifacts/faults/`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Before testbed.runtime is imported: it reads its home and ports once, at import.
os.environ.setdefault("TESTBED_HOME", str(REPO / ".testbed-faults"))
os.environ.setdefault("TESTBED_PORT_BASE", "24000")
# Pods run long enough that "while jobs run" is a window a fault can fall into.
os.environ.setdefault("TESTBED_POD_RUN_SECONDS", "20")

from faults.harness import (  # noqa: E402
    NAMESPACE,
    Api,
    Clusters,
    HarnessError,
    Platform,
    Postgres,
    Redis,
    Tracker,
    clusters_ready,
    log_tail,
    platform_env,
    wait_until,
)

PORT_BASE = int(os.environ["TESTBED_PORT_BASE"])
LOG_DIR = REPO / "test-artifacts" / "faults"
LEFT_BEHIND = (
    "Pending",
    "Submitted",
    "Scheduled",
    "Running",
    "Restarting",
    "Succeeded",
    "Failed",
    "SubmitFailed",
)


@dataclass
class Stack:
    testbed: object
    postgres: Postgres
    redis: Redis
    platform: Platform
    api: Api
    clusters: Clusters

    def log_paths(self) -> list[Path]:
        return [
            *(p.log_path for p in self.platform.processes()),
            self.redis.process.log_path,
            self.postgres.server_log,
        ]


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    from testbed import runtime
    from testbed.api import ensure_up

    if runtime.HOME == (REPO / ".testbed").resolve():
        pytest.fail(
            "The fault suite must not run on the everyday testbed (.testbed/): it stops its "
            "processes. Run it with `make test-faults`.",
            pytrace=False,
        )
    if LOG_DIR.exists():
        shutil.rmtree(LOG_DIR)
    LOG_DIR.mkdir(parents=True)
    try:
        testbed = ensure_up()
    except RuntimeError as exc:
        pytest.fail(f"The fault suite's testbed is not available: {exc}", pytrace=False)

    # Not under pytest's tmp dir: PostgreSQL runs as another user, who must reach it.
    root = Path(tempfile.mkdtemp(prefix="mlplatform-faults-"))
    root.chmod(0o755)
    var_dir = root / "var"
    var_dir.mkdir()
    postgres = Postgres(root / "postgres", PORT_BASE + 90, LOG_DIR)
    redis = Redis(root / "redis", PORT_BASE + 91, LOG_DIR)
    platform = None
    try:
        postgres.init()
        redis.start()
        env = platform_env(
            database_url=postgres.url,
            redis_url=redis.url,
            kubeconfig=testbed.karmada_kubeconfig,
            var_dir=var_dir,
        )
        platform = Platform(env=env, port=PORT_BASE + 92, log_dir=LOG_DIR, var_dir=var_dir)
        platform.manage("migrate", "--noinput")
        token = platform.create_api_user("fault-tester", NAMESPACE)
        platform.start_web()
        platform.start_worker()
        platform.start_beat()
        api = Api(platform.url, token)
        wait_until(
            lambda: clusters_ready(api, testbed.members),
            timeout=90,
            message="both member clusters Ready in GET /api/v1/clusters",
            detail=lambda: f"clusters: {api.clusters()}",
        )
        yield Stack(testbed, postgres, redis, platform, api, Clusters(testbed))
    except HarnessError as exc:
        pytest.fail(f"The fault suite's platform could not start: {exc}", pytrace=False)
    finally:
        if platform is not None:
            platform.stop()
        redis.stop()
        postgres.destroy()
        shutil.rmtree(root, ignore_errors=True)
        if os.environ.get("FAULTS_KEEP_TESTBED") != "1":
            runtime.down()


def _restore(stack: Stack) -> None:
    """Bring back anything a previous test's fault left down."""
    if not stack.postgres.running():
        stack.postgres.start()
    if not stack.redis.process.running():
        stack.redis.start()
    platform = stack.platform
    if not platform.web.running():
        platform.start_web()
    if not platform.worker.running():
        platform.start_worker()
    if not platform.beat.running():
        platform.start_beat()
    # A fault can take testbed processes down with it (mpi-operator exits when it cannot
    # renew its lease on a stopped apiserver): start them again.
    for name in stack.testbed.stopped_processes():
        print(f"restarting testbed process {name}, down after the previous fault")
        stack.testbed.restart(name)
    if not stack.testbed.healthy()[0]:
        # Give Karmada a moment to see members that were just resumed.
        wait_until(
            lambda: stack.testbed.healthy()[0],
            timeout=90,
            message="the fault testbed healthy again",
            detail=lambda: "; ".join(stack.testbed.healthy()[1]),
        )


@pytest.fixture
def tracker(stack: Stack, request) -> Iterator[Tracker]:
    """Every test starts on a whole platform, follows its jobs with a Tracker, and leaves
    nothing behind even when it fails."""
    _restore(stack)
    wait_until(
        lambda: clusters_ready(stack.api, stack.testbed.members),
        timeout=120,
        message="both member clusters Ready in GET /api/v1/clusters",
        detail=lambda: f"clusters: {stack.api.clusters()}",
    )
    offsets = {p: p.stat().st_size if p.exists() else 0 for p in stack.log_paths()}
    with Tracker(stack.api) as tracker:
        yield tracker
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        # The processes' own words about the test's window, shown with the failure.
        for path, start in offsets.items():
            try:
                with open(path, "rb") as f:
                    f.seek(start)
                    lines = f.read().decode(errors="replace").splitlines()
            except OSError:
                continue
            # Routine lines (tasks received or done in well under a second, access log
            # 200s) drown the rest.
            routine = (" received", "Discarding revoked", '" 200 ', "succeeded in 0.")
            notable = [line for line in lines if not any(s in line for s in routine)]
            print(f"--- {path.name} during the test ({len(lines)} lines, notable ones):")
            print("\n".join(notable[-80:]))
    # Best effort: a failed test's jobs must not load the next one. Listed through the API,
    # not taken from the tracker: a create that timed out may still have been stored.
    try:
        _restore(stack)
        for job in stack.api.jobs(*LEFT_BEHIND):
            stack.api.delete(job["id"])
        wait_until(
            lambda: not stack.api.jobs("Deleting"),
            timeout=120,
            interval=1,
            message="the test's jobs deleted",
        )
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"cleanup after {request.node.name} failed: {exc}")
        for path in stack.log_paths():
            print(log_tail(path, 20))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
