"""The settings the deployment passes are the ones the code reads.

The names the code reads are found twice: by importing the settings with a recording
environment (what really happens), and by reading mlplatform/*.py for the env helpers
(names read only on branches the import did not take). A name in k8s/ or the compose file
that neither finds is a setting that silently does nothing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
import yaml
from deploytools import (
    BASE,
    REPO,
    by_kind,
    compose_command,
    compose_env,
    containers,
    pod_templates,
    run,
)

# Read by something other than mlplatform's settings, each for a reason.
NOT_SETTINGS = {
    "WEB_CONCURRENCY": "gunicorn's worker count",
    "POSTGRES_USER": "postgres image",
    "POSTGRES_DB": "postgres image",
    "POSTGRES_PASSWORD_FILE": "postgres image",
    "PGDATA": "postgres image",
}
# What every platform process must be given.
REQUIRED = {"DATABASE_URL", "SECRET_KEY", "REDIS_URL", "ALLOWED_HOSTS", "DEBUG"}

RECORD = r"""
import json, os, sys
seen = set()
class Recording(os._Environ):
    def __getitem__(self, key):
        seen.add(key); return super().__getitem__(key)
    def __contains__(self, key):
        seen.add(key); return super().__contains__(key)
    def get(self, key, default=None):
        seen.add(key); return super().get(key, default)
env = os.environ
os.environ = Recording(env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue)
sys.path.insert(0, sys.argv[1])
import mlplatform.settings  # noqa
print(json.dumps(sorted(seen)))
"""

HELPERS = {
    "envstr",
    "envbool",
    "envint",
    "envlist",
    "envduration",
    "envchoice",
    "envrate",
    "envheader",
    "getenv",
    "get",
}


def names_read_at_import(tmp_path) -> set[str]:
    # MLPLATFORM_LOCAL: without a SECRET_KEY the settings would (rightly) refuse to load.
    env = {
        "PATH": "/usr/bin:/bin",
        "MLPLATFORM_VAR_DIR": str(tmp_path / "var"),
        "MLPLATFORM_LOCAL": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", RECORD, str(REPO)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def names_in_source() -> set[str]:
    names = set()
    for path in (REPO / "mlplatform").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.isupper()
            ):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in HELPERS:
                    names.add(node.args[0].value)
    return names


@pytest.fixture(scope="module")
def settings_names(tmp_path_factory) -> set[str]:
    seen = names_read_at_import(tmp_path_factory.mktemp("settings"))
    static = names_in_source()
    # Every helper goes through envstr, which also reads NAME_FILE: the recording proves it
    # for the names it saw, and the same rule holds for the rest.
    assert "SECRET_KEY_FILE" in seen, "envstr no longer reads NAME_FILE: update this test"
    return seen | static | {f"{n}_FILE" for n in static}


def platform_env_names_k8s(objects: list[dict]) -> dict[str, set[str]]:
    """container -> env names it gets (envFrom ConfigMap keys and env entries)."""
    configmaps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    result = {}
    for workload, spec in pod_templates(objects):
        for c in containers(spec):
            names = {e["name"] for e in c.get("env", [])}
            for source in c.get("envFrom", []):
                names |= set(configmaps[source["configMapRef"]["name"]])
            result[f"{workload['metadata']['name']}/{c['name']}"] = names
    return result


def compose_services(fake_karmada_kubeconfig) -> dict:
    env = compose_env(KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig))
    out = run(
        [*compose_command(), "-f", str(REPO / "docker-compose.yml"), "config"], env=env
    ).stdout
    return yaml.safe_load(out)["services"]


def test_every_k8s_setting_is_read(settings_names, base_objects, dry_run_objects, example_objects):
    for objects in (base_objects, example_objects, dry_run_objects):
        for container, names in platform_env_names_k8s(objects).items():
            unknown = names - settings_names - set(NOT_SETTINGS)
            assert not unknown, f"{container} sets {sorted(unknown)}, which nothing reads"


def test_every_config_env_line_is_read(settings_names):
    keys = {
        line.split("=", 1)[0]
        for line in (BASE / "config.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert keys <= settings_names, keys - settings_names


def test_deploy_script_settings_are_read(settings_names, fake_karmada_kubeconfig, tmp_path):
    """The ConfigMap keys deploy.sh adds (with every optional setting given)."""
    from deploytools import deploy, load_all

    mgmt = tmp_path / "mgmt.yaml"
    mgmt.write_text(fake_karmada_kubeconfig.read_text())
    result = deploy(
        "--dry-run",
        KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig),
        MGMT_KUBECONFIG=str(mgmt),
        CSRF_TRUSTED_ORIGINS="https://ml.example.com",
        JOB_MONITOR_INTERVAL="500ms",
    )
    assert result.returncode == 0, result.stderr
    config = next(o for o in load_all(result.stdout) if o["kind"] == "ConfigMap")["data"]
    assert set(config) <= settings_names, set(config) - settings_names
    assert {"CSRF_TRUSTED_ORIGINS", "MGMT_KUBECONFIG_PATH", "JOB_MONITOR_INTERVAL"} <= set(config)


def test_every_platform_process_gets_what_it_needs(base_objects):
    for container, names in platform_env_names_k8s(base_objects).items():
        if container.startswith(("postgres", "redis")):
            continue
        plain = {n.removesuffix("_FILE") for n in names}
        assert plain >= REQUIRED, f"{container} lacks {sorted(REQUIRED - plain)}"
    web = by_kind(base_objects)["Deployment", "mlplatform-web"]
    assert (
        "KARMADA_KUBECONFIG_PATH"
        in platform_env_names_k8s([*base_objects, web])["mlplatform-web/web"]
    )


def test_every_compose_setting_is_read(settings_names, fake_karmada_kubeconfig):
    services = compose_services(fake_karmada_kubeconfig)
    for name, service in services.items():
        if not service["image"].startswith("mlplatform"):
            continue
        names = set(service.get("environment") or {})
        unknown = names - settings_names - set(NOT_SETTINGS)
        assert not unknown, f"compose service {name} sets {sorted(unknown)}, which nothing reads"
        if name in {"migrate", "web", "worker", "beat"}:
            plain = {n.removesuffix("_FILE") for n in names}
            assert plain >= REQUIRED | {"KARMADA_KUBECONFIG_PATH"}, name
