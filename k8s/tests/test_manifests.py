"""The Kubernetes manifests as rendered by kustomize: every object the deployment needs,
hardened pods, selectors that select, and file settings that point at mounted files.
(The API server's own validation runs in test_testbed_dry_run.py.)"""

from __future__ import annotations

from pathlib import PurePosixPath

from deploytools import by_kind, containers, pod_templates

PLATFORM_WORKLOADS = {
    ("Deployment", "mlplatform-web"),
    ("Deployment", "mlplatform-worker"),
    ("Deployment", "mlplatform-beat"),
    ("Job", "mlplatform-migrate"),
}

EXPECTED = PLATFORM_WORKLOADS | {
    ("Namespace", "ml-platform"),
    ("ServiceAccount", "mlplatform"),
    ("Service", "mlplatform-web"),
    ("PodDisruptionBudget", "mlplatform-web"),
    ("StatefulSet", "postgres"),
    ("Service", "postgres"),
    ("Service", "postgres-headless"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("NetworkPolicy", "postgres"),
    ("NetworkPolicy", "redis"),
}


def test_base_renders_every_object(base_objects):
    found = set(by_kind(base_objects))
    assert EXPECTED <= found, EXPECTED - found
    assert any(k == "ConfigMap" and n.startswith("mlplatform-config-") for k, n in found)


def test_base_places_everything_in_ml_platform(base_objects):
    for obj in base_objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "ml-platform", obj["metadata"]["name"]


def test_example_overlay_sets_image_namespace_and_port(example_objects):
    objects = by_kind(example_objects)
    assert ("Namespace", "ml-platform-staging") in objects
    assert {o["metadata"].get("namespace") for o in example_objects} == {
        None,
        "ml-platform-staging",
    }
    images = {
        c["image"]
        for _, spec in pod_templates(example_objects)
        for c in containers(spec)
        if "mlplatform" in c["image"]
    }
    assert images == {"registry.example.com/ml/mlplatform:1.0.0"}
    assert objects["Service", "mlplatform-web"]["spec"]["ports"][0]["nodePort"] == 30280
    assert objects["Deployment", "mlplatform-web"]["spec"]["replicas"] == 3


def test_every_container_is_hardened_and_bounded(base_objects):
    for workload, spec in pod_templates(base_objects):
        name = workload["metadata"]["name"]
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True, name
        assert pod_sc["runAsUser"] > 0, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for c in containers(spec):
            where = f"{name}/{c['name']}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), where


def test_web_is_replicated_probed_and_protected(base_objects):
    objects = by_kind(base_objects)
    web = objects["Deployment", "mlplatform-web"]
    assert web["spec"]["replicas"] >= 2
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["gunicorn", "mlplatform.wsgi:application"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health"
        # The kubelet's Host is the pod IP, which ALLOWED_HOSTS never holds.
        assert {"name": "Host", "value": "localhost"} in get["httpHeaders"]
    pdb = objects["PodDisruptionBudget", "mlplatform-web"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = objects["Service", "mlplatform-web"]
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30180


def test_beat_runs_exactly_once(base_objects):
    beat = by_kind(base_objects)["Deployment", "mlplatform-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    (container,) = beat["spec"]["template"]["spec"]["containers"]
    assert container["command"][:4] == ["celery", "--app=mlplatform", "beat", "--loglevel=INFO"]


def test_processes_run_the_documented_commands(base_objects):
    objects = by_kind(base_objects)

    def command(kind, name):
        return objects[kind, name]["spec"]["template"]["spec"]["containers"][0]["command"]

    assert command("Deployment", "mlplatform-worker")[:3] == [
        "celery",
        "--app=mlplatform",
        "worker",
    ]
    # Celery's default concurrency follows the node's CPUs, not the pod's limits.
    assert any(a.startswith("--concurrency=") for a in command("Deployment", "mlplatform-worker"))
    assert command("Job", "mlplatform-migrate") == ["python", "manage.py", "migrate", "--noinput"]


def test_platform_pods_wait_for_migrations(base_objects):
    for workload, spec in pod_templates(base_objects):
        if workload["kind"] == "Deployment" and workload["metadata"]["name"].startswith(
            "mlplatform"
        ):
            (init,) = spec["initContainers"]
            assert "migrate --check" in init["command"][-1], workload["metadata"]["name"]


def test_postgres_keeps_its_data(base_objects):
    pg = by_kind(base_objects)["StatefulSet", "postgres"]
    (claim,) = pg["spec"]["volumeClaimTemplates"]
    mounts = {
        m["name"]: m["mountPath"]
        for m in pg["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts[claim["metadata"]["name"]] == "/var/lib/postgresql/data"
    assert pg["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"


def test_selectors_select_pods(base_objects):
    """Services, the PDB and the NetworkPolicies each match some pod template."""
    templates = [
        (o["metadata"]["namespace"], spec_labels)
        for o, _ in pod_templates(base_objects)
        for spec_labels in [o["spec"]["template"]["metadata"]["labels"]]
    ]

    def matches(ns, selector):
        return any(n == ns and selector.items() <= labels.items() for n, labels in templates)

    for obj in base_objects:
        ns = obj["metadata"].get("namespace")
        kind = obj["kind"]
        if kind == "Service":
            assert matches(ns, obj["spec"]["selector"]), obj["metadata"]["name"]
        elif kind == "PodDisruptionBudget":
            assert matches(ns, obj["spec"]["selector"]["matchLabels"])
        elif kind == "NetworkPolicy":
            assert matches(ns, obj["spec"]["podSelector"]["matchLabels"])
            for rule in obj["spec"]["ingress"]:
                for peer in rule["from"]:
                    assert matches(ns, peer["podSelector"]["matchLabels"])


def test_file_settings_point_at_mounted_files(base_objects):
    """Every *_FILE and kubeconfig path in the config is a file some mounted Secret
    provides, in every platform container that reads the config (init containers too)."""
    config = next(o for o in base_objects if o["kind"] == "ConfigMap")["data"]
    file_settings = {k: v for k, v in config.items() if k.endswith("_FILE")}
    assert {"DATABASE_URL_FILE", "SECRET_KEY_FILE"} <= set(file_settings)
    for workload, spec in pod_templates(base_objects):
        if (workload["kind"], workload["metadata"]["name"]) not in PLATFORM_WORKLOADS:
            continue
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in containers(spec):
            where = f"{workload['metadata']['name']}/{c['name']}"
            provided = set()
            for m in c.get("volumeMounts", []):
                secret = volumes[m["name"]].get("secret")
                if not secret:
                    continue
                keys = [i["path"] for i in secret.get("items", [])] or ["*"]
                provided |= {str(PurePosixPath(m["mountPath"]) / k) for k in keys}
            wanted = dict(file_settings)
            if c["name"] in {"web", "worker"}:
                wanted["KARMADA_KUBECONFIG_PATH"] = config["KARMADA_KUBECONFIG_PATH"]
            for setting, path in wanted.items():
                parent = str(PurePosixPath(path).parent / "*")
                assert path in provided or parent in provided, (
                    f"{where}: {setting}={path} not mounted"
                )


def test_writable_paths_are_volumes(base_objects):
    """With a read-only root, /tmp and var/ (Celery beat's schedule) must be volumes."""
    for workload, spec in pod_templates(base_objects):
        if (workload["kind"], workload["metadata"]["name"]) not in PLATFORM_WORKLOADS:
            continue
        for c in containers(spec):
            paths = {m["mountPath"] for m in c["volumeMounts"]}
            assert {"/tmp", "/app/var"} <= paths, f"{workload['metadata']['name']}/{c['name']}"


def test_every_referenced_secret_is_created_by_deploy(base_objects, dry_run_objects):
    referenced = {
        v["secret"]["secretName"]
        for _, spec in pod_templates(base_objects)
        for v in spec.get("volumes", [])
        if "secret" in v
    }
    created = {o["metadata"]["name"] for o in dry_run_objects if o["kind"] == "Secret"}
    assert referenced == created == {"mlplatform-db", "mlplatform-django", "mlplatform-kubeconfig"}
