"""testbed/build.sh builds into a cache one build at a time: a second build (a test session
that starts while one runs in another shell) waits for the first instead of writing the
same source trees at once."""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path

BUILD = Path(__file__).resolve().parent.parent / "build.sh"


def _read_until(proc: subprocess.Popen, text: str, timeout: float) -> str:
    """stderr of ``proc`` until a line holding ``text`` (or the process ends)."""
    assert proc.stderr is not None
    seen = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while text not in seen and time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            chunk = os.read(proc.stderr.fileno(), 4096).decode()
            if not chunk:
                break
            seen += chunk
    return seen


def test_a_second_build_waits_for_the_one_holding_the_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with open(cache / ".build.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the first build, still running
        proc = subprocess.Popen(
            ["bash", str(BUILD)],
            env={**os.environ, "TESTBED_CACHE": str(cache)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            said = _read_until(proc, "waiting for it to finish", timeout=30)
            assert f"another testbed/build.sh is building into {cache}" in said, said
            # It said so right before blocking on the lock: alive, and nothing of its own.
            assert proc.poll() is None
            assert sorted(p.name for p in cache.iterdir()) == [".build.lock"]
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
