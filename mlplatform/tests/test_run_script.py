"""`make run` as a user meets it: scripts/run.sh with nothing configured, on its own port
and var/ directory, brings up embedded PostgreSQL and Redis and the platform on them."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import psutil
import pytest
from django.conf import settings

from jobs.tests.contract import readme_example
from mlplatform.embedded import EmbeddedPostgres
from mlplatform.launcher import port_in_use
from testbed.polling import wait_for

REPO = Path(settings.BASE_DIR)
SUBMITTED = {"Submitted", "Scheduled", "Running", "Restarting", "Succeeded", "Failed"}


def free_port() -> int:
    # The range this suite's web servers use, clear of the testbed's ports.
    for port in range(18150, 18200):
        if port_in_use("127.0.0.1", port) is None:
            return port
    pytest.fail("no free port in 18150-18199 for the platform under test", pytrace=False)


class Run:
    """One `make run` (scripts/run.sh) process, its output in a file."""

    started: ClassVar[list[Run]] = []

    def __init__(self, var_dir: Path, port: int, kubeconfig: Path) -> None:
        self.var_dir, self.port, self.kubeconfig = var_dir, port, kubeconfig
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = var_dir.parent / f"run-{port}-{time.monotonic_ns()}.log"
        self.token = ""

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.removesuffix("_FILE") not in {"DATABASE_URL", "REDIS_URL"}
        }
        env.update(
            MLPLATFORM_VAR_DIR=str(self.var_dir),
            PORT=str(self.port),
            HOST="127.0.0.1",
            KARMADA_KUBECONFIG_PATH=str(self.kubeconfig),
        )
        return env

    def start(self) -> Run:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(REPO / "scripts/run.sh")],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        Run.started.append(self)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180) -> str:
        """Waits for the "ready" line; returns the admin password it prints."""

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(
                    f"make run exited with {self.proc.returncode}:\n{self.output()[-4000:]}",
                    pytrace=False,
                )
            return re.search(r"ready: \S+ +\(login: admin / (\S+)", self.output())

        return wait_for(ready, timeout=timeout, message="make run to print ready").group(1)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def servers(self) -> list[psutil.Process]:
        """The embedded servers: the launcher's own postgres and redis-server children."""
        found = []
        for p in psutil.Process(self.proc.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if p.name() in {"postgres", "redis-server"}:
                    found.append(p)
        return found

    def signal_and_wait(self, sig: int = signal.SIGINT, timeout: float = 90) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"make run did not stop on {sig!r}:\n{self.output()[-3000:]}")

    def login(self) -> None:
        """An API token for the generated admin, made as the README says."""
        env = {**self.env(), "DATABASE_URL": EmbeddedPostgres(self.var_dir).url}
        env["MLPLATFORM_LOCAL"] = "1"
        out = subprocess.run(
            [sys.executable, "manage.py", "drf_create_token", "admin"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.token = re.search(r"token (\w+)", out).group(1)

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw.startswith(b"{") else {"raw": raw[:500]}

    def status(self, job_id: str) -> str:
        code, body = self.api("GET", f"/api/v1/jobs/{job_id}/status")
        assert code == 200, body
        return body["status"]

    def delete_all(self, job_ids: list[str]) -> None:
        """Leave the shared testbed as it was."""
        for job_id in job_ids:
            self.api("DELETE", f"/api/v1/jobs/{job_id}")
        wait_for(
            lambda: all(self.status(j) == "Deleted" for j in job_ids),
            timeout=120,
            message="the test's jobs deleted from Karmada",
        )


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
    return alive


@pytest.fixture(autouse=True)
def _stop_every_run(var_dir):
    """A test that fails half-way still leaves no platform running (stopped before its
    var/ directory is removed)."""
    yield
    while Run.started:
        run = Run.started.pop()
        if run.proc.poll() is None:
            run.proc.terminate()
            try:
                run.proc.wait(90)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()


@pytest.fixture
def var_dir():
    """A var/ of its own, under /tmp so that PostgreSQL, run as 'nobody' when the suite runs
    as root, can reach it (pytest's own tmp_path is private to its user)."""
    top = Path(tempfile.mkdtemp(prefix="mlp-run-", dir="/tmp"))
    top.chmod(0o711)
    yield top / "var"
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def no_karmada(var_dir) -> Path:
    """A kubeconfig for tests about start-up and shutdown only: nothing listens behind it."""
    var_dir.parent.joinpath("karmada.yaml").write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: k, cluster: {server: 'https://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n"
    )
    return var_dir.parent / "karmada.yaml"


@pytest.fixture
def karmada_kubeconfig(testbed) -> Path:
    return testbed.karmada_kubeconfig


@pytest.mark.testbed
def test_make_run_takes_a_job_to_success_and_keeps_it_across_a_restart(var_dir, karmada_kubeconfig):
    run = Run(var_dir, free_port(), karmada_kubeconfig).start()
    password = run.wait_ready()
    out = run.output()
    assert "database: embedded PostgreSQL" in out and "broker: embedded Redis" in out
    assert (var_dir / "postgres" / "PG_VERSION").exists()
    servers = run.servers()
    assert {p.name() for p in servers} == {"postgres", "redis-server"}
    # PostgreSQL on a Unix socket only, Redis on loopback only.
    for server in servers:
        listening = {
            c.laddr.ip for c in server.net_connections(kind="inet") if c.status == "LISTEN"
        }
        assert listening <= ({"127.0.0.1"} if server.name() == "redis-server" else set())

    run.login()
    code, job = run.api("POST", "/api/v1/jobs", readme_example(jobName="make-run-job"))
    assert code == 201, job
    job_id = job["id"]
    try:
        wait_for(
            lambda: run.status(job_id) == "Succeeded",
            timeout=180,
            message="the job created through make run's API to succeed",
        )
        before = run.descendants()
        assert run.signal_and_wait(signal.SIGINT) == 0
        assert not _alive(before), "Ctrl-C left processes behind"
        assert "stopping the embedded PostgreSQL and Redis" in run.output()

        again = Run(var_dir, run.port, karmada_kubeconfig).start()
        assert again.wait_ready() == password, "the admin login survives a restart"
        again.token = run.token
        code, body = again.api("GET", f"/api/v1/jobs/{job_id}")
        assert code == 200, body
        assert body["status"] == "Succeeded"
        run = again
    finally:
        run.delete_all([job_id])
        run.signal_and_wait(signal.SIGTERM)


@pytest.mark.testbed
def test_a_burst_of_50_jobs_from_4_clients_is_all_submitted_promptly(var_dir, karmada_kubeconfig):
    run = Run(var_dir, free_port(), karmada_kubeconfig).start()
    run.wait_ready()
    run.login()
    body = readme_example(
        resources={
            "instanceResources": {"cpuCores": 0.1, "memoryGiB": 0.25, "gpuCount": 0},
            "instanceCount": 1,
            "volumeSizeGB": 1,
        },
        targetClusters=[],
    )

    def create(i: int) -> str:
        code, job = run.api("POST", "/api/v1/jobs", {**body, "jobName": f"burst-{i}"})
        assert code == 201, job
        return job["id"]

    job_ids: list[str] = []
    try:
        with ThreadPoolExecutor(4) as pool:
            job_ids = list(pool.map(create, range(50)))
        last_create = time.monotonic()

        def all_submitted() -> bool:
            code, page = run.api("GET", "/api/v1/jobs?pageSize=500")
            assert code == 200, page
            statuses = {j["id"]: j["status"] for j in page["results"] if j["id"] in job_ids}
            assert "SubmitFailed" not in statuses.values(), statuses
            return len(statuses) == 50 and set(statuses.values()) <= SUBMITTED

        wait_for(all_submitted, timeout=60, interval=0.1, message="all 50 jobs submitted")
        print(
            f"\n[burst] 50 jobs (4 clients) all submitted to Karmada "
            f"{time.monotonic() - last_create:.2f} s after the last create (target < 5 s)"
        )
    finally:
        run.delete_all(job_ids)
        run.signal_and_wait(signal.SIGTERM)


def test_a_second_make_run_fails_at_once_naming_the_port(var_dir, no_karmada):
    first = Run(var_dir, free_port(), no_karmada).start()
    first.wait_ready()
    try:
        second = Run(var_dir, first.port, no_karmada).start()
        assert second.proc.wait(30) == 1
        assert f"port {first.port} on 127.0.0.1 is not free" in second.output()
        # Another port, the same var/: the data directory is taken.
        third = Run(var_dir, free_port(), no_karmada).start()
        assert third.proc.wait(30) == 1
        assert f"another `make run` (pid {first.proc.pid})" in third.output()
        assert first.proc.poll() is None, "the running one is left alone"
    finally:
        assert first.signal_and_wait(signal.SIGTERM) == 0


def test_a_port_taken_by_another_program_fails_before_anything_starts(var_dir, no_karmada):
    class Healthy(http.server.BaseHTTPRequestHandler):
        # Another program that even answers /health: it must not be taken for ours.
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    other = http.server.HTTPServer(("127.0.0.1", port), Healthy)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        run = Run(var_dir, port, no_karmada).start()
        assert run.proc.wait(30) == 1
        out = run.output()
        assert f"port {port} on 127.0.0.1 is not free" in out
        assert "ready:" not in out
        assert not (var_dir / "postgres").exists(), "nothing started before the port check"
    finally:
        other.shutdown()
        other.server_close()


def test_a_killed_make_run_leaves_no_embedded_server_behind(var_dir, no_karmada):
    run = Run(var_dir, free_port(), no_karmada).start()
    run.wait_ready()
    children = run.descendants()
    assert sorted(p.name() for p in run.servers()) == ["postgres", "redis-server"]
    run.proc.kill()  # no chance to clean up: the servers must still go
    run.proc.wait()
    wait_for(lambda: not _alive(children), timeout=60, message="children of a killed make run gone")
    # And the next start is clean: a fresh (empty) broker, the same database.
    again = Run(var_dir, run.port, no_karmada).start()
    again.wait_ready()
    assert again.signal_and_wait(signal.SIGINT) == 0
