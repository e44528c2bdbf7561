"""k8s/deploy.sh without a cluster: its dry run names every object it would create, leaks
no secret, is repeatable, and honours its settings. (Against real API servers:
test_testbed_dry_run.py.)"""

from __future__ import annotations

import base64

from deploytools import DEPLOY, by_kind, deploy, find_tool, load_all, pod_templates, run

EXPECTED = {
    ("Namespace", "ml-platform"),
    ("ServiceAccount", "mlplatform"),
    ("Secret", "mlplatform-db"),
    ("Secret", "mlplatform-django"),
    ("Secret", "mlplatform-kubeconfig"),
    ("Service", "mlplatform-web"),
    ("Deployment", "mlplatform-web"),
    ("Deployment", "mlplatform-worker"),
    ("Deployment", "mlplatform-beat"),
    ("PodDisruptionBudget", "mlplatform-web"),
    ("StatefulSet", "postgres"),
    ("Service", "postgres"),
    ("Service", "postgres-headless"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("NetworkPolicy", "postgres"),
    ("NetworkPolicy", "redis"),
}


def test_shellcheck_accepts_it():
    run([find_tool("shellcheck"), "--severity=style", str(DEPLOY)])


def test_dry_run_would_create_every_object(dry_run_objects, dry_run):
    found = set(by_kind(dry_run_objects))
    assert EXPECTED <= found, EXPECTED - found
    assert any(k == "Job" and n.startswith("mlplatform-migrate-") for k, n in found)
    assert any(k == "ConfigMap" and n.startswith("mlplatform-config-") for k, n in found)
    # The plan on stderr names the same objects and the waits.
    for kind, name in EXPECTED:
        assert f"{kind}/{name}" in dry_run.stderr
    assert "would wait for" in dry_run.stderr


def test_dry_run_includes_the_karmada_interpreters(dry_run_objects):
    kinds = {o["kind"] for o in dry_run_objects}
    assert "ResourceInterpreterCustomization" in kinds, (
        "k8s/karmada/resource-interpreter-customizations.yaml is missing or empty"
    )


def test_dry_run_leaks_no_secret(dry_run):
    out = dry_run.stdout + dry_run.stderr
    assert "tok-SHOULD-NOT-LEAK" not in out
    for obj in load_all(dry_run.stdout):
        if obj["kind"] == "Secret":
            for value in obj["data"].values():
                assert base64.b64decode(value).decode().startswith(("<", "postgres://mlplatform:<"))


def test_dry_run_is_repeatable(dry_run, fake_karmada_kubeconfig):
    again = deploy("--dry-run", KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig))
    assert again.returncode == 0
    assert again.stdout == dry_run.stdout


def test_dry_run_honours_settings(fake_karmada_kubeconfig, tmp_path):
    mgmt = tmp_path / "mgmt.yaml"
    mgmt.write_text(fake_karmada_kubeconfig.read_text())
    result = deploy(
        "--dry-run",
        KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig),
        MGMT_KUBECONFIG=str(mgmt),
        NAMESPACE="team-ml",
        IMAGE="registry.local:5000/ml/mlplatform:v2",
        SERVICE_TYPE="ClusterIP",
        WEB_REPLICAS="4",
        WORKER_REPLICAS="3",
        ALLOWED_HOSTS="localhost,ml.example.com",
        JOB_MONITOR_INTERVAL="2s",
    )
    assert result.returncode == 0, result.stderr
    objects = load_all(result.stdout)
    platform = [o for o in objects if o["kind"] != "ResourceInterpreterCustomization"]
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in platform} == {"team-ml"}
    found = by_kind(objects)
    assert found["Deployment", "mlplatform-web"]["spec"]["replicas"] == 4
    assert found["Deployment", "mlplatform-worker"]["spec"]["replicas"] == 3
    assert found["Deployment", "mlplatform-beat"]["spec"]["replicas"] == 1
    svc = found["Service", "mlplatform-web"]["spec"]
    assert svc["type"] == "ClusterIP" and "nodePort" not in svc["ports"][0]
    images = {
        c["image"]
        for _, spec in pod_templates(objects)
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        if "mlplatform" in c["image"]
    }
    assert images == {"registry.local:5000/ml/mlplatform:v2"}
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert config["ALLOWED_HOSTS"] == "localhost,ml.example.com"
    assert config["JOB_MONITOR_INTERVAL"] == "2s"
    assert config["MGMT_KUBECONFIG_PATH"] == "/etc/mlplatform/kubeconfig/mgmt.yaml"
    kubeconfigs = found["Secret", "mlplatform-kubeconfig"]["data"]
    assert set(kubeconfigs) == {"karmada.yaml", "mgmt.yaml"}


def test_a_changed_setting_is_a_new_release(fake_karmada_kubeconfig):
    """The migration Job is named after the release, so a new image runs a new migration
    and an unchanged one re-runs nothing."""

    def job_name(**env):
        result = deploy("--dry-run", KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig), **env)
        assert result.returncode == 0, result.stderr
        return next(o for o in load_all(result.stdout) if o["kind"] == "Job")["metadata"]["name"]

    assert job_name(IMAGE="mlplatform:a") == job_name(IMAGE="mlplatform:a")
    assert job_name(IMAGE="mlplatform:a") != job_name(IMAGE="mlplatform:b")


def test_it_refuses_to_run_without_karmada():
    result = deploy("--dry-run")
    assert result.returncode != 0
    assert "KARMADA_KUBECONFIG is not set" in result.stderr


def test_it_rejects_bad_settings(fake_karmada_kubeconfig):
    for env in ({"SERVICE_TYPE": "Ingress"}, {"WEB_REPLICAS": "two"}, {"NAMESPACE": "Bad_NS"}):
        result = deploy("--dry-run", KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig), **env)
        assert result.returncode != 0, env
        assert "ERROR" in result.stderr


def test_it_warns_about_an_unreachable_karmada_address(tmp_path, fake_karmada_kubeconfig):
    local = tmp_path / "karmada-local.yaml"
    local.write_text(fake_karmada_kubeconfig.read_text().replace("karmada.example", "127.0.0.1"))
    result = deploy("--dry-run", KARMADA_KUBECONFIG=str(local))
    assert result.returncode == 0
    assert "pods cannot reach" in result.stderr


def test_help_describes_the_settings():
    result = deploy("--help")
    assert result.returncode == 0
    for word in ("KARMADA_KUBECONFIG", "NAMESPACE", "IMAGE", "--dry-run", "NODE_PORT"):
        assert word in result.stdout
