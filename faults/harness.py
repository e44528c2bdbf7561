"""The platform in its production shape, owned by the fault suite so it can break it.

Every part is a process this module starts, in its own session (so a signal reaches the
process and its children, and nothing else): a PostgreSQL server from Debian's binaries on
a private port and a throwaway data directory, a Redis server (no persistence, as the
deployments run it), gunicorn (2 workers x 4 threads), one Celery worker (concurrency 2)
and one separate Celery beat. The testbed (Karmada and two members) is the fault suite's
own, under its own TESTBED_HOME and ports.

The suite talks to the platform only through its HTTP API, and checks Karmada and the
members through the testbed's admin kubeconfigs.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")

NAMESPACE = "fault-jobs"
JOB_ID_LABEL = "mlplatform.io/job-id"
FINAL = {"Succeeded", "Failed", "SubmitFailed", "Deleted"}
# Statuses a job must never show in a fault test: none of its workloads failed.
WRONG = {"Failed", "SubmitFailed"}

WORKLOADS = "/apis/kubeflow.org/v1/xgboostjobs"
POLICIES = "/apis/policy.karmada.io/v1alpha1/propagationpolicies"
BINDINGS = "/apis/work.karmada.io/v1alpha2/resourcebindings"
PODS = "/api/v1/pods"


class HarnessError(RuntimeError):
    pass


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    message: str,
    interval: float = 0.5,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; raise AssertionError naming
    what was awaited (and ``detail()``, e.g. the jobs' statuses) when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {message} (last: {last!r}){extra}"
            )
        time.sleep(interval)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path}: no log)"
    return f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:])


# --- processes ----------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Process:
    """One long-running process the suite started, in a session of its own."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.log_offset = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%F %T')} start {' '.join(self.argv)}\n".encode())
            log.flush()
            self.log_offset = log.tell()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise HarnessError(f"{self.name} was never started")
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, needle: str, *, timeout: float) -> None:
        """Wait until the current run's log shows ``needle``; fail if the process exits."""

        def seen() -> bool:
            if not self.running():
                raise HarnessError(
                    f"{self.name} exited with {self.popen.returncode}:\n{log_tail(self.log_path)}"
                )
            return needle in self.log_since_start()

        wait_until(seen, timeout=timeout, message=f"{self.name} to log {needle!r}")

    def signal_group(self, sig: int) -> None:
        """Signal the process and every child it forked (its session's group)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole group, as an OOM kill or a node loss would, and reap it."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)
            wait_until(
                lambda: not _group_alive(self.popen.pid),
                timeout=30,
                message=f"every process of {self.name} gone",
            )

    def stop(self, grace: float = 20) -> None:
        if not self.running():
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.popen.wait(timeout=30)
        # Children (gunicorn's or Celery's pool) may outlive their parent by a moment.
        deadline = time.monotonic() + 10
        while _group_alive(self.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(self.popen.pid):
            self.signal_group(signal.SIGKILL)


def _pg_bin(name: str) -> str:
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise HarnessError(
            f"PostgreSQL's {name} is not installed (Debian's postgresql package puts it under "
            "/usr/lib/postgresql/<version>/bin; scripts/test-services.sh installs it)."
        )
    return found[-1]


class Postgres:
    """A PostgreSQL server of the suite's own: private port, throwaway data directory."""

    USER = "mlplatform"
    DB = "mlplatform"

    def __init__(self, root: Path, port: int, log_dir: Path):
        self.root = root
        self.data = root / "data"
        self.port = port
        self.server_log = root / "server.log"
        self.log_dir = log_dir

    @property
    def url(self) -> str:
        return f"postgres://{self.USER}@127.0.0.1:{self.port}/{self.DB}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root: run its binaries as the `postgres` user then.
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], *, timeout: float = 120) -> str:
        result = subprocess.run(
            self._as_owner(argv), capture_output=True, text=True, timeout=timeout, cwd="/"
        )
        if result.returncode != 0:
            raise HarnessError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{log_tail(self.server_log)}"
            )
        return result.stdout

    def init(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            [
                _pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                self.USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                # Throwaway data: durability is not what these tests are about.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 100\n"
            )
        self.start()
        self._run(
            [
                _pg_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "mlplatform",
                self.DB,
            ]
        )

    def start(self) -> None:
        self._run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.server_log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"])

    def running(self) -> bool:
        result = subprocess.run(
            self._as_owner([_pg_bin("pg_ctl"), "-D", str(self.data), "status"]),
            capture_output=True,
            cwd="/",
        )
        return result.returncode == 0

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        if self.server_log.exists():
            shutil.copy(self.server_log, self.log_dir / "postgres.log")
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A Redis server of the suite's own. Like the deployments' Redis it keeps nothing on
    disk: a restart loses every queued message, which is part of the fault."""

    def __init__(self, root: Path, port: int, log_dir: Path):
        self.root = root
        self.port = port
        root.mkdir(parents=True, exist_ok=True)
        redis_server = shutil.which("redis-server")
        if not redis_server:
            raise HarnessError(
                "redis-server is not installed (Debian's redis-server package; "
                "scripts/test-services.sh installs it)."
            )
        self.process = Process(
            "redis",
            [
                redis_server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],
            env=dict(os.environ),
            log_dir=log_dir,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()
        self.process.wait_log("Ready to accept connections", timeout=30)

    def stop(self) -> None:
        self.process.stop()


class Platform:
    """gunicorn, the Celery worker and Celery beat, on the suite's PostgreSQL and Redis."""

    def __init__(self, *, env: dict[str, str], port: int, log_dir: Path, var_dir: Path):
        self.port = port
        self.env = env
        python = sys.executable
        self.web = Process(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "mlplatform.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                "--workers=2",
                "--threads=4",
                "--timeout=60",
                "--access-logfile=-",
                f"--worker-tmp-dir={var_dir}",
            ],
            env=env,
            log_dir=log_dir,
        )
        self.worker = Process(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "mlplatform",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
            ],
            env=env,
            log_dir=log_dir,
        )
        self.beat = Process(
            "beat",
            [
                python,
                "-m",
                "celery",
                "-A",
                "mlplatform",
                "beat",
                "--loglevel=INFO",
                f"--schedule={var_dir / 'beat-schedule'}",
            ],
            env=env,
            log_dir=log_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise HarnessError(
                f"manage.py {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def create_api_user(self, username: str, namespace: str) -> str:
        """A user allowed in ``namespace``, with an API token; returns the token."""
        code = (
            "from django.contrib.auth import get_user_model\n"
            "from rest_framework.authtoken.models import Token\n"
            "from jobs.models import NamespaceGrant\n"
            f"user, _ = get_user_model().objects.get_or_create(username={username!r})\n"
            f"NamespaceGrant.objects.get_or_create(user=user, namespace={namespace!r})\n"
            "print('TOKEN=' + Token.objects.get_or_create(user=user)[0].key)\n"
        )
        out = self.manage("shell", "-c", code)
        for line in out.splitlines():
            if line.startswith("TOKEN="):
                return line.removeprefix("TOKEN=")
        raise HarnessError(f"no token printed by manage.py shell:\n{out}")

    def start_web(self) -> None:
        self.web.start()

        def healthy() -> bool:
            if not self.web.running():
                raise HarnessError(f"gunicorn exited:\n{log_tail(self.web.log_path)}")
            try:
                return requests.get(f"{self.url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=60, message="gunicorn answering /health")

    def start_worker(self) -> None:
        self.worker.start()
        self.worker.wait_log("ready.", timeout=90)

    def start_beat(self) -> None:
        self.beat.start()
        self.beat.wait_log("beat: Starting", timeout=60)

    def processes(self) -> list[Process]:
        return [self.web, self.worker, self.beat]

    def stop(self) -> None:
        for proc in (self.beat, self.worker, self.web):
            proc.stop()


def platform_env(*, database_url: str, redis_url: str, kubeconfig: Path, var_dir: Path) -> dict:
    """The environment of every platform process: production defaults, this stack's services."""
    env = dict(os.environ)
    # Production defaults for everything the suite does not set on purpose.
    for name in (
        "DATABASE_URL_FILE",
        "SECRET_KEY_FILE",
        "REDIS_URL_FILE",
        "JOB_MONITOR_INTERVAL",
        "JOB_PENDING_RESUBMIT_AFTER",
        "CELERY_TASK_ALWAYS_EAGER",
        "DJANGO_SETTINGS_MODULE",
    ):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        KARMADA_KUBECONFIG_PATH=str(kubeconfig),
        MLPLATFORM_VAR_DIR=str(var_dir),
        MLPLATFORM_LOCAL="1",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="false",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def clusters_ready(api: Api, members: list[str]) -> bool:
    """Every one of ``members`` is Ready in GET /api/v1/clusters."""
    listing = api.clusters() or []
    ready = {c.get("name") for c in listing if c.get("ready")}
    return set(members) <= ready


# --- the API, as a client sees it ---------------------------------------------------


def job_body(
    name: str, *, target_clusters: list[str] | None = None, namespace: str = NAMESPACE
) -> dict[str, Any]:
    """A one-instance XGBoost job, 0.1 CPU and 0.25 GiB (docs/MEASURING's load)."""
    body: dict[str, Any] = {
        "jobName": name,
        "namespace": namespace,
        "algorithm": {"source": "default", "algorithmName": "xgboost"},
        "resources": {
            "instanceResources": {"cpuCores": 0.1, "memoryGiB": 0.25, "gpuCount": 0},
            "instanceCount": 1,
            "volumeSizeGB": 0,
        },
        "hyperparameters": {"xgboost": {"num_round": 10}},
    }
    if target_clusters:
        body["targetClusters"] = target_clusters
    return body


class Api:
    """The platform's REST API with one user's token. Reads tolerate an outage (they
    answer None), since the tests poll straight through the faults they inject."""

    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/")
        self.token = token
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        # One session per thread: the tracker polls from its own.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {self.token}"
            self._local.session = session
        return session

    def create(self, body: dict[str, Any]) -> requests.Response:
        return self.http.post(f"{self.base}/api/v1/jobs", json=body, timeout=30)

    def probe(self, path: str) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body or text) of one GET; status 0 when nothing answered."""
        try:
            response = self.http.get(f"{self.base}{path}", timeout=10)
        except requests.RequestException as exc:
            return 0, {}, str(exc)
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
        return response.status_code, dict(response.headers), body

    def job(self, job_id: str) -> dict[str, Any] | None:
        try:
            response = self.http.get(f"{self.base}/api/v1/jobs/{job_id}", timeout=10)
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    def delete(self, job_id: str) -> requests.Response:
        return self.http.delete(f"{self.base}/api/v1/jobs/{job_id}", timeout=30)

    def jobs(self, *statuses: str) -> list[dict[str, Any]]:
        """Every job of the user in those statuses (the suite never has more than a page)."""
        response = self.http.get(
            f"{self.base}/api/v1/jobs",
            params={"status": ",".join(statuses), "pageSize": "500"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["results"]

    def clusters(self) -> list[dict[str, Any]] | None:
        try:
            response = self.http.get(f"{self.base}/api/v1/clusters", timeout=10)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        data = response.json()
        return data.get("results", data) if isinstance(data, dict) else data


@dataclass
class Tracked:
    id: str
    name: str
    k8s_name: str
    # Every distinct (status, reason, message) the API showed, in order, with the time.
    seen: list[tuple[float, str, str, str]] = field(default_factory=list)
    last: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return (self.last or {}).get("status", "?")

    def statuses(self) -> list[str]:
        out: list[str] = []
        for _, status, _, _ in self.seen:
            if not out or out[-1] != status:
                out.append(status)
        return out


class Tracker:
    """Follows jobs through the API in a background thread, once a second, so a status
    shown only during a fault (a wrong Failed, say) is seen even while the test sleeps."""

    def __init__(self, api: Api, interval: float = 1.0):
        self.api = api
        self.interval = interval
        self.jobs: dict[str, Tracked] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-tracker", daemon=True)
        self.started = time.monotonic()

    def __enter__(self) -> Tracker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def add(self, job: dict[str, Any]) -> Tracked:
        tracked = Tracked(id=job["id"], name=job["jobName"], k8s_name=job["kubernetesName"])
        with self.lock:
            self.jobs[tracked.id] = tracked
        self._observe(tracked, job)
        return tracked

    def _observe(self, tracked: Tracked, job: dict[str, Any]) -> None:
        key = (job["status"], job.get("statusReason", ""), job.get("statusMessage", ""))
        with self.lock:
            tracked.last = job
            if not tracked.seen or tracked.seen[-1][1:] != key:
                tracked.seen.append((round(time.monotonic() - self.started, 1), *key))

    def poll(self) -> None:
        with self.lock:
            jobs = list(self.jobs.values())
        for tracked in jobs:
            job = self.api.job(tracked.id)
            if job is not None:
                self._observe(tracked, job)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def all(self) -> list[Tracked]:
        with self.lock:
            return list(self.jobs.values())

    def in_status(self, *statuses: str) -> list[Tracked]:
        return [j for j in self.all() if j.status in statuses]

    def report(self) -> str:
        lines = []
        for j in self.all():
            steps = " -> ".join(
                f"[{t}s] {s}" + (f" ({r}: {m[:160]})" if r or m else "") for t, s, r, m in j.seen
            )
            lines.append(f"  {j.name} {j.id} cluster={(j.last or {}).get('cluster', '')}: {steps}")
        return "jobs as the API showed them:\n" + "\n".join(lines)

    def wrongly_failed(self) -> list[Tracked]:
        return [j for j in self.all() if any(s in WRONG for _, s, _, _ in j.seen)]


# --- Karmada and the members, as the testbed's admin sees them ------------------------


class Clusters:
    """Counts what exists on Karmada and on each member for the tracked jobs."""

    def __init__(self, testbed: Any):
        self.testbed = testbed
        self.names = ["karmada", *testbed.members]

    def _by_job(self, cluster: str, path: str) -> dict[str, int]:
        kube = self.testbed.kube(cluster)
        try:
            items = kube.request("GET", path, query={"labelSelector": JOB_ID_LABEL}, timeout=20)[
                "items"
            ]
        finally:
            kube.close()
        counts: dict[str, int] = {}
        for item in items:
            job_id = (item["metadata"].get("labels") or {}).get(JOB_ID_LABEL)
            counts[job_id] = counts.get(job_id, 0) + 1
        return counts

    def workloads(self, cluster: str) -> dict[str, int]:
        return self._by_job(cluster, WORKLOADS)

    def policies(self) -> dict[str, int]:
        return self._by_job("karmada", POLICIES)

    def pods(self, member: str) -> dict[str, int]:
        return self._by_job(member, PODS)

    def binding_names(self) -> set[str]:
        kube = self.testbed.kube("karmada")
        try:
            items = kube.request("GET", BINDINGS, timeout=20)["items"]
        finally:
            kube.close()
        return {item["metadata"]["name"] for item in items}

    def placement(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        """{job id: {where: count}} of workloads, over Karmada and every member."""
        out: dict[str, dict[str, int]] = {j: {} for j in job_ids}
        for cluster in self.names:
            for job_id, n in self.workloads(cluster).items():
                if job_id in out:
                    out[job_id][cluster] = n
        return out

    def leftovers(self, jobs: list[Tracked]) -> list[str]:
        """Everything the platform created for ``jobs`` that still exists anywhere."""
        ids = {j.id for j in jobs}
        found = []
        for cluster in self.names:
            for job_id, n in self.workloads(cluster).items():
                if job_id in ids:
                    found.append(f"{n} XGBoostJob of job {job_id} on {cluster}")
        for job_id, n in self.policies().items():
            if job_id in ids:
                found.append(f"{n} PropagationPolicy of job {job_id} on karmada")
        bindings = self.binding_names()
        for j in jobs:
            if f"{j.k8s_name}-xgboostjob" in bindings:
                found.append(f"ResourceBinding {j.k8s_name}-xgboostjob of job {j.id} on karmada")
        for member in self.testbed.members:
            for job_id, n in self.pods(member).items():
                if job_id in ids:
                    found.append(f"{n} pod(s) of job {job_id} on {member}")
        return found


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str)
