"""Fixtures for the deployment tests; the helpers live in deploytools.py beside this file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploytools import BASE, EXAMPLE, deploy, kustomize, load_all


@pytest.fixture(scope="session")
def fake_karmada_kubeconfig(tmp_path_factory) -> Path:
    """A Karmada kubeconfig for runs that contact nothing; its token must never be printed."""
    path = tmp_path_factory.mktemp("kubeconfig") / "karmada.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "karmada", "cluster": {"server": "https://karmada.example:5443"}}
                ],
                "users": [{"name": "admin", "user": {"token": "tok-SHOULD-NOT-LEAK"}}],
                "contexts": [
                    {"name": "karmada", "context": {"cluster": "karmada", "user": "admin"}}
                ],
                "current-context": "karmada",
            }
        )
    )
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def base_objects() -> list[dict]:
    return kustomize(BASE)


@pytest.fixture(scope="session")
def example_objects() -> list[dict]:
    return kustomize(EXAMPLE)


@pytest.fixture(scope="session")
def dry_run(fake_karmada_kubeconfig) -> subprocess.CompletedProcess:
    result = deploy("--dry-run", KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig))
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="session")
def dry_run_objects(dry_run) -> list[dict]:
    return load_all(dry_run.stdout)
