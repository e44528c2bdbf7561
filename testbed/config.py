"""Where the testbed lives and what it is made of: paths, members, labels, and the
settings read from the environment (TESTBED_HOME, TESTBED_CACHE, TESTBED_PORT_BASE, …)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


TESTBED_DIR = REPO / "testbed"


HOME = Path(os.environ.get("TESTBED_HOME") or REPO / ".testbed").resolve()


CACHE = Path(os.environ.get("TESTBED_CACHE") or Path.home() / ".cache" / "mlplatform" / "testbed")


MEMBERS = ["member-cluster-1", "member-cluster-2"]


DEFAULT_PORT_BASE = 29000


DEFAULT_POD_RUN_SECONDS = 5.0


# Labels and annotations understood by the kwok stages (see testbed/kwok-stages.yaml).
FAIL_LABEL = "testbed.mlplatform.io/outcome"
# Its values, each a stage of its own: exit 1, exit 137 OOMKilled, evicted, image not pulled.
OUTCOMES = ("fail", "oom", "evict", "image-pull")


RUN_DURATION_ANNOTATION = "testbed.mlplatform.io/run-duration"


KUBEFLOW_SCHEMES = ["tfjob", "pytorchjob", "xgboostjob", "jaxjob", "paddlejob"]


CA_BUNDLE_PLACEHOLDER = "{{caBundle}}"


Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    out = {}
    for line in (TESTBED_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def requested_port_base() -> int:
    raw = os.environ.get("TESTBED_PORT_BASE")
    try:
        return int(raw) if raw else DEFAULT_PORT_BASE
    except ValueError:
        raise RuntimeError(f"TESTBED_PORT_BASE={raw!r} is not a port number") from None


def requested_trainer_v2() -> bool:
    """TESTBED_TRAINER_V2=1: start Kubeflow Trainer v2 and JobSet with the testbed rather than
    on first use (runtime.ensure_trainer_v2)."""
    raw = (os.environ.get("TESTBED_TRAINER_V2") or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise RuntimeError(f"TESTBED_TRAINER_V2={raw!r} is not 1 or 0")


def requested_pod_run_seconds() -> float:
    raw = os.environ.get("TESTBED_POD_RUN_SECONDS")
    try:
        value = float(raw) if raw else DEFAULT_POD_RUN_SECONDS
    except ValueError:
        raise RuntimeError(f"TESTBED_POD_RUN_SECONDS={raw!r} is not a number of seconds") from None
    if value < 0:
        raise RuntimeError("TESTBED_POD_RUN_SECONDS must not be negative")
    return value
