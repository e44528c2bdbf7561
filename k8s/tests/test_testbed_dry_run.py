"""The manifests and the deploy script against real API servers (the testbed's): schema
validation (strict: unknown fields fail), admission (Pod Security "restricted" enforced on
pods), and Karmada's own validation of the resource interpreters. Nothing is kept: every
write is a server-side dry run, into a namespace made for the test and deleted after."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
import yaml
from deploytools import BASE, EXAMPLE, REPO, by_kind, deploy, find_tool, kustomize, pod_templates

pytestmark = pytest.mark.testbed

# The cluster the platform is deployed to in these tests (any kube-apiserver will do). The
# `testbed` fixture (repository conftest.py) starts or reuses the testbed.
MGMT = "member-cluster-1"


def kubectl(kubeconfig, *args: str, stdin: str | None = None, check: bool = True):
    result = subprocess.run(
        [find_tool("kubectl"), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        pytest.fail(f"kubectl {' '.join(args)} failed:\n{result.stderr}", pytrace=False)
    return result


def api_warnings(stderr: str) -> list[str]:
    """Warnings from the API server (deprecations, Pod Security), not the deploy script's."""
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


@pytest.fixture
def namespace(testbed):
    """A real namespace labelled as the base's (so Pod Security enforces the same level),
    deleted after the test."""
    kubeconfig = testbed.member_kubeconfig(MGMT)
    name = f"mlp-deploy-test-{uuid.uuid4().hex[:8]}"
    ns = by_kind(kustomize(BASE))["Namespace", "ml-platform"]
    ns["metadata"]["name"] = name
    kubectl(kubeconfig, "create", "-f", "-", stdin=json.dumps(ns))
    yield name
    kubectl(kubeconfig, "delete", "namespace", name, "--wait=false", check=False)


def retarget(objects: list[dict], namespace: str) -> list[dict]:
    """The rendered objects moved into the test's namespace (which already exists)."""
    result = []
    for obj in objects:
        if obj["kind"] == "Namespace":
            continue
        obj = json.loads(json.dumps(obj))
        obj["metadata"]["namespace"] = namespace
        result.append(obj)
    return result


def server_dry_run(kubeconfig, objects: list[dict]):
    return kubectl(
        kubeconfig,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "--field-manager=mlplatform-test",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(objects),
        check=False,
    )


@pytest.mark.parametrize("overlay", [BASE, EXAMPLE], ids=["base", "example-overlay"])
def test_api_server_accepts_every_object(testbed, namespace, overlay):
    objects = retarget(kustomize(overlay), namespace)
    result = server_dry_run(testbed.member_kubeconfig(MGMT), objects)
    assert result.returncode == 0, result.stderr
    assert not api_warnings(result.stderr), result.stderr
    accepted = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == len(objects), result.stdout


def test_every_pod_meets_the_restricted_standard(testbed, namespace):
    """Pod Security only warns for Deployments; it refuses Pods. So each pod template is
    sent as a Pod too."""
    kubeconfig = testbed.member_kubeconfig(MGMT)
    # A Pod's admission looks its ServiceAccount up, so that one is created for real.
    kubectl(kubeconfig, "-n", namespace, "create", "serviceaccount", "mlplatform")
    for workload, spec in pod_templates(kustomize(BASE)):
        name = workload["metadata"]["name"]
        # A StatefulSet's claims become PVC volumes of its pods, as the controller does.
        claims = [
            {
                "name": t["metadata"]["name"],
                "persistentVolumeClaim": {"claimName": f"{t['metadata']['name']}-{name}-0"},
            }
            for t in workload["spec"].get("volumeClaimTemplates", [])
        ]
        spec = {**spec, "volumes": [*spec.get("volumes", []), *claims]}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"check-{workload['metadata']['name']}", "namespace": namespace},
            "spec": {**spec, "restartPolicy": spec.get("restartPolicy", "Always")},
        }
        result = kubectl(
            kubeconfig, "create", "--dry-run=server", "-f", "-", stdin=json.dumps(pod), check=False
        )
        assert result.returncode == 0, f"{workload['metadata']['name']}: {result.stderr}"
        assert not api_warnings(result.stderr), result.stderr


def test_karmada_accepts_the_resource_interpreters(testbed):
    files = sorted((REPO / "k8s" / "karmada").glob("*.yaml"))
    assert files, "k8s/karmada/*.yaml is missing"
    args = [a for f in files for a in ("-f", str(f))]
    result = kubectl(
        testbed.karmada_kubeconfig,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=mlplatform-test",
        *args,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "resourceinterpretercustomization" in result.stdout.lower()


def deploy_env(testbed, namespace: str) -> dict[str, str]:
    return {
        "KUBECONFIG": str(testbed.member_kubeconfig(MGMT)),
        "KARMADA_KUBECONFIG": str(testbed.karmada_kubeconfig),
        "NAMESPACE": namespace,
        "BUILD": "never",
    }


def test_deploy_script_server_dry_run(testbed, namespace):
    """The whole deploy, secrets and Karmada included, checked by the API servers."""
    result = deploy("--dry-run=server", **deploy_env(testbed, namespace))
    assert result.returncode == 0, result.stderr
    assert "server-side dry run passed" in result.stderr
    assert not api_warnings(result.stderr), result.stderr
    applied = result.stderr
    for name in (
        "secret/mlplatform-db",
        "secret/mlplatform-django",
        "secret/mlplatform-kubeconfig",
        "deployment.apps/mlplatform-web",
        "deployment.apps/mlplatform-worker",
        "deployment.apps/mlplatform-beat",
        "statefulset.apps/postgres",
        "deployment.apps/redis",
        "service/mlplatform-web",
        "poddisruptionbudget.policy/mlplatform-web",
        "job.batch/mlplatform-migrate-",
        "resourceinterpretercustomization.config.karmada.io/",
    ):
        assert name in applied, name
    # Karmada's member clusters are listed: the script really reached Karmada.
    assert "member-cluster-1" in result.stderr
    # The nodes' addresses join ALLOWED_HOSTS (read from the real cluster).
    assert "Karmada answers" in result.stderr


def test_deploy_script_keeps_the_stored_secrets(testbed, namespace):
    """With the secrets already in the cluster, two runs are the same release (the
    migration Job's name is a digest of everything deployed, secrets included): the
    stored password and key are reused, not regenerated."""
    kubeconfig = testbed.member_kubeconfig(MGMT)
    for name, key, value in (
        ("mlplatform-db", "POSTGRES_PASSWORD", "stored-pass"),
        ("mlplatform-django", "SECRET_KEY", "stored-key"),
    ):
        kubectl(
            kubeconfig,
            "-n",
            namespace,
            "create",
            "secret",
            "generic",
            name,
            f"--from-literal={key}={value}",
        )
    env = deploy_env(testbed, namespace)

    def job():
        result = deploy("--dry-run=server", **env)
        assert result.returncode == 0, result.stderr
        return next(
            w for w in result.stderr.split() if w.startswith("job.batch/mlplatform-migrate-")
        )

    assert job() == job()


def test_server_dry_run_needs_the_namespace(testbed):
    env = deploy_env(testbed, f"mlp-absent-{uuid.uuid4().hex[:8]}")
    result = deploy("--dry-run=server", **env)
    assert result.returncode != 0
    assert "does not exist yet" in result.stderr


def test_kubectl_reaches_the_testbed(testbed):
    """Guards the others: a kubectl that cannot talk to the testbed fails here first."""
    result = kubectl(testbed.member_kubeconfig(MGMT), "get", "--raw", "/readyz")
    assert result.stdout.strip() == "ok"
    assert os.path.exists(testbed.karmada_kubeconfig)
