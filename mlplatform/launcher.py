"""`make run`: the whole platform on one machine, on the production engines.

With nothing configured it starts an embedded PostgreSQL and an embedded Redis
(mlplatform.embedded, data under var/) and, when KARMADA_KUBECONFIG_PATH is unset, the local
testbed; then web (gunicorn), one Celery worker and Celery beat as separate processes, as in
production. DATABASE_URL and REDIS_URL, when set, take precedence over the embedded servers.

Ctrl-C (SIGINT) or SIGTERM stops web, worker and beat, then the embedded servers. A port
already in use, or a second `make run` on the same var/ directory, fails at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mlplatform.embedded import EmbeddedError, EmbeddedPostgres, EmbeddedRedis, spawn, stop

REPO = Path(__file__).resolve().parent.parent


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop everything started so far."""


def say(message: str) -> None:
    print(f"\033[1m[mlplatform]\033[0m {message}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signal.Signals(signum).name)


def port_in_use(host: str, port: int) -> str | None:
    """Why (host, port) cannot be bound, or None when it is free. Checked before anything
    starts, so that a health check answered by another program is never taken for ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: a port left in TIME_WAIT by an earlier run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _listens_on(pid: int, port: int) -> bool:
    import psutil

    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
            for c in psutil.Process(pid).net_connections(kind="inet")
        )
    except psutil.Error:
        return False


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _lock_var_dir(var_dir: Path):
    """Held for the launcher's lifetime: one `make run` per var/ directory."""
    run_dir = var_dir / "run"
    run_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
    handle = open(run_dir / "launcher.pid", "a+")  # held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        return None, holder
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle, None


def main() -> int:
    host = os.environ.get("HOST") or "127.0.0.1"
    port = int(os.environ.get("PORT") or "8000")
    var_dir = Path(os.environ.get("MLPLATFORM_VAR_DIR") or REPO / "var").resolve()
    py = sys.executable

    busy = port_in_use(host, port)
    if busy:
        say(
            f"port {port} on {host} is not free ({busy}): another `make run` or another "
            f"program is using it; stop it, or choose another port with PORT=..."
        )
        return 1
    var_dir.mkdir(parents=True, exist_ok=True)
    lock, holder = _lock_var_dir(var_dir)
    if lock is None:
        say(f"another `make run` (pid {holder}) is running on {var_dir}; stop it first")
        return 1

    env = dict(os.environ)
    # The single-host run: secrets it lacks may be generated under var/.
    env["MLPLATFORM_LOCAL"] = "1"
    env["MLPLATFORM_VAR_DIR"] = str(var_dir)
    servers: list[EmbeddedPostgres | EmbeddedRedis] = []
    platform: list[tuple[str, subprocess.Popen]] = []
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        if not env.get("KARMADA_KUBECONFIG_PATH"):
            say(
                "KARMADA_KUBECONFIG_PATH is unset: starting the local testbed "
                "(the first run builds it; that takes a while)"
            )
            subprocess.run([py, "testbed/testbed.py", "up"], cwd=REPO, env=env, check=True)
            env["KARMADA_KUBECONFIG_PATH"] = str(REPO / ".testbed/kubeconfig/karmada.yaml")

        if env.get("DATABASE_URL") or env.get("DATABASE_URL_FILE"):
            database = "DATABASE_URL"
        else:
            # Listed before it starts, so an interrupted start-up still stops it.
            servers.append(EmbeddedPostgres(var_dir))
            env["DATABASE_URL"] = servers[-1].start().url
            database = f"embedded PostgreSQL in {var_dir / 'postgres'}"
        if env.get("REDIS_URL") or env.get("REDIS_URL_FILE"):
            broker = "REDIS_URL"
        else:
            servers.append(EmbeddedRedis(var_dir))
            env["REDIS_URL"] = servers[-1].start().url
            broker = "embedded Redis (empty at every start)"
        say(f"database: {database}; broker: {broker}")
        say(f"Karmada: {env['KARMADA_KUBECONFIG_PATH']}")

        manage = [py, "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput"], cwd=REPO, env=env, check=True)
        login = subprocess.run(
            [*manage, "ensure_admin"], cwd=REPO, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

        celery = [py, "-m", "celery", "-A", "mlplatform"]
        commands = {
            "worker": [*celery, "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [*celery, "beat", "--loglevel=INFO"],
            "web": [
                *(py, "-m", "gunicorn", "mlplatform.wsgi:application", "--bind", f"{host}:{port}"),
                *("--workers", "2", "--threads", "4", "--access-logfile", "-"),
            ],
        }
        for name, args in commands.items():
            platform.append((name, spawn(args, env=env)))

        web = platform[-1][1]
        health = f"http://{host}:{port}/health"
        deadline = time.monotonic() + 120
        # Ready means: /health answers and the port is held by our own gunicorn.
        while not (_health_ok(health) and _listens_on(web.pid, port)):
            for name, proc in platform:
                if proc.poll() is not None:
                    raise EmbeddedError(
                        f"{name} exited with code {proc.returncode} while starting"
                        + (f" (could port {port} on {host} be taken?)" if name == "web" else "")
                    )
            if time.monotonic() > deadline:
                raise EmbeddedError(f"web did not answer {health} within 120 s")
            time.sleep(0.3)
        base = f"http://{host}:{port}"
        say(f"ready: {base}/   ({login})")
        say(f"API: {base}/api/v1/jobs   docs: {base}/api/docs   admin: {base}/admin/")

        while True:
            for name, proc in platform:
                if proc.poll() is not None:
                    raise EmbeddedError(f"{name} exited with code {proc.returncode}")
            time.sleep(0.5)
    except Interrupted:
        pass
    except (EmbeddedError, subprocess.CalledProcessError) as exc:
        say(f"error: {exc}")
        code = 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        if platform:
            say("stopping web, worker and beat")
            for _, proc in platform:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
            # A worker in the middle of a Karmada call gets a few seconds to finish it.
            for _, proc in platform:
                stop(proc, timeout=15)
        if servers:
            say("stopping the embedded " + " and ".join(s.name for s in servers))
            for server in reversed(servers):
                server.stop()
        lock.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code


if __name__ == "__main__":
    sys.exit(main())
