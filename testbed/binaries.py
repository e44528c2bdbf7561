"""The binaries and upstream sources the testbed runs: the cache testbed/build.sh fills,
and the Go module directories its manifests come from."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import yaml

from .config import CACHE, TESTBED_DIR, Log, _stderr, versions


def component_dirs() -> dict[str, Path]:
    """Cache directories per component; names match testbed/build.sh."""
    v = versions()
    return {
        "kubernetes": CACHE / f"kubernetes-{v['KUBERNETES_VERSION']}",
        "karmada": CACHE / f"karmada-{v['KARMADA_VERSION']}",
        "training-operator": CACHE / f"training-operator-{v['TRAINING_OPERATOR_VERSION']}",
        "mpi-operator": CACHE / f"mpi-operator-{v['MPI_OPERATOR_VERSION']}-healthport",
        "kwok": CACHE / f"kwok-{v['KWOK_VERSION']}",
        "jobset": CACHE / f"jobset-{v['JOBSET_VERSION']}",
        "trainer": CACHE / f"trainer-{v['TRAINER_VERSION']}",
    }


def binary(component: str, name: str) -> str:
    return str(component_dirs()[component] / "bin" / name)


def binaries_ready() -> bool:
    return all((d / ".complete").is_file() for d in component_dirs().values())


def build(log: Log = _stderr) -> None:
    """Run build.sh, passing its progress lines to `log` as they come."""
    log("[testbed] building missing binaries with testbed/build.sh (cold: tens of minutes)")
    # Lines go through `log` rather than an inherited fd: under pytest's capture
    # sys.stderr may have no file descriptor at all.
    with subprocess.Popen(
        ["bash", str(TESTBED_DIR / "build.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as proc:
        for line in proc.stdout:
            log(line.rstrip())
    if proc.returncode != 0 or not binaries_ready():
        raise RuntimeError(
            "testbed/build.sh failed; its output is above. Re-run `bash testbed/build.sh` to retry."
        )


_module_dirs: dict[str, Path] = {}


def module_dir(module: str, version: str) -> Path:
    """Where the Go module cache holds an upstream module (CRDs and manifests are read there)."""
    key = f"{module}@{version}"
    if key not in _module_dirs:
        out = subprocess.run(
            ["go", "mod", "download", "-json", key],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        info = json.loads(out.stdout or "{}")
        if out.returncode != 0 or "Dir" not in info:
            raise RuntimeError(f"go mod download {key} failed: {info.get('Error') or out.stderr}")
        _module_dirs[key] = Path(info["Dir"])
    return _module_dirs[key]


def karmada_dir() -> Path:
    return module_dir("github.com/karmada-io/karmada", versions()["KARMADA_VERSION"])


def training_operator_dir() -> Path:
    return module_dir(
        "github.com/kubeflow/training-operator", versions()["TRAINING_OPERATOR_VERSION"]
    )


def mpi_operator_dir() -> Path:
    return module_dir("github.com/kubeflow/mpi-operator", versions()["MPI_OPERATOR_VERSION"])


def trainer_dir() -> Path:
    return module_dir("github.com/kubeflow/trainer/v2", versions()["TRAINER_VERSION"])


def jobset_dir() -> Path:
    return module_dir("sigs.k8s.io/jobset", versions()["JOBSET_VERSION"])


def kwok_dir() -> Path:
    return module_dir("sigs.k8s.io/kwok", versions()["KWOK_VERSION"])


def load_yaml_docs(path: Path, replacements: dict[str, str] | None = None) -> list[dict]:
    text = path.read_text()
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    return [d for d in yaml.safe_load_all(text) if d]
