"""Detached testbed processes: start, find, stop.

Each process runs in its own session (so it outlives the command or pytest run
that started it, and its whole process group can be signalled at once), logs to
its own file and leaves a pidfile. Every process also carries the environment
variable MARKER_ENV set to the testbed's state directory: after a crash that
lost pidfiles, that marker still identifies exactly the processes this testbed
started, and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

MARKER_ENV = "MLPLATFORM_TESTBED_HOME"


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks; tells a live process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; fields after the closing parenthesis are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


def start(
    name: str,
    argv: list[str],
    *,
    home: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    log_path = home / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    (home / "run").mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env[MARKER_ENV] = str(home)
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%F %T')} {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=home,
            start_new_session=True,
            close_fds=True,
        )
    pidfile = home / "run" / f"{name}.pid"
    pidfile.write_text(json.dumps({"pid": proc.pid, "start": _start_ticks(proc.pid), "argv": argv}))
    return proc


def read_pidfile(home: Path, name: str) -> dict | None:
    try:
        return json.loads((home / "run" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(home: Path, name: str) -> bool:
    info = read_pidfile(home, name)
    if not info:
        return False
    ticks = _start_ticks(info["pid"])
    return ticks is not None and ticks == info.get("start")


def marked_pids(home: Path) -> list[int]:
    """Pids of live processes whose environment carries this testbed's marker."""
    needle = f"{MARKER_ENV}={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and _start_ticks(pid) is not None:
            found.append(pid)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    try:
        # Our processes lead their own group; signal the group so children go too,
        # but never a group we do not lead (that could be the caller's shell).
        if pgid == pid and pgid != os.getpgid(0):
            os.killpg(pgid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_pids(pids: list[int], *, grace: float = 10.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left."""
    pids = [p for p in pids if _start_ticks(p) is not None]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        pids = [p for p in pids if _start_ticks(p) is not None]
        if not pids:
            return
        time.sleep(0.1)
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_start_ticks(p) is not None for p in pids):
        time.sleep(0.1)


def stop_all(home: Path, names: list[str], *, grace: float = 10.0) -> int:
    """Stop every process of this testbed (pidfiles and marked leftovers); how many ran."""
    pids = set(marked_pids(home))
    for name in names:
        info = read_pidfile(home, name)
        if info and _start_ticks(info["pid"]) == info.get("start"):
            pids.add(info["pid"])
    stop_pids(sorted(pids), grace=grace)
    return len(pids)


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])
