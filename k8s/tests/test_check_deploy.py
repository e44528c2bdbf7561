"""`manage.py check --deploy` is clean with the settings the deployments give the platform
(k8s/base's ConfigMap and the compose file), and finds what is missing without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deploytools import BASE, REPO, by_kind, compose_command, compose_env, kustomize, run

SECRET_KEY = "deploy-check-" + "k3y-Qx9z" * 8


def _with_local_files(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The deployment's environment, its secret files made locally, runnable here."""
    env = {k: str(v) for k, v in env.items()}
    files = {
        "DATABASE_URL_FILE": os.environ.get("DATABASE_URL", "postgres://u:p@127.0.0.1/db"),
        "SECRET_KEY_FILE": SECRET_KEY,
    }
    for name, value in files.items():
        path = tmp_path / name
        path.write_text(value)
        env[name] = str(path)
    env["KARMADA_KUBECONFIG_PATH"] = str(tmp_path / "karmada.yaml")
    env["MLPLATFORM_VAR_DIR"] = str(tmp_path / "var")
    env["STATIC_ROOT"] = str(tmp_path / "static")
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env["PYTHONPATH"] = str(REPO)
    env["DJANGO_SETTINGS_MODULE"] = "mlplatform.settings"
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def k8s_env() -> dict[str, str]:
    objects = kustomize(BASE)
    env = dict(next(o for o in objects if o["kind"] == "ConfigMap")["data"])
    web = by_kind(objects)["Deployment", "mlplatform-web"]["spec"]["template"]["spec"]
    env.update({e["name"]: e["value"] for e in web["containers"][0].get("env", [])})
    return env


def compose_web_env(fake_karmada_kubeconfig) -> dict[str, str]:
    env = compose_env(KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig))
    out = run([*compose_command(), "-f", str(REPO / "docker-compose.yml"), "config"], env=env)
    return yaml.safe_load(out.stdout)["services"]["web"]["environment"]


def test_k8s_settings_pass_check_deploy(tmp_path):
    result = check_deploy(_with_local_files(k8s_env(), tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_compose_settings_pass_check_deploy(tmp_path, fake_karmada_kubeconfig):
    env = compose_web_env(fake_karmada_kubeconfig)
    assert env["SECURE_SSL_REDIRECT"] == "true" and env["SESSION_COOKIE_SECURE"] == "true"
    result = check_deploy(_with_local_files(env, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_without_them_check_deploy_names_each_gap(tmp_path):
    """The check is not vacuous: the local defaults (plain HTTP) fail it, one warning each."""
    env = _with_local_files({"DEBUG": "false", "ALLOWED_HOSTS": "localhost"}, tmp_path)
    result = check_deploy(env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr, warning


@pytest.mark.parametrize(
    "name", ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"]
)
def test_the_compose_file_lets_a_plain_http_trial_turn_them_off(fake_karmada_kubeconfig, name):
    env = compose_env(KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig), **{name: "false"})
    out = run([*compose_command(), "-f", str(REPO / "docker-compose.yml"), "config"], env=env)
    assert yaml.safe_load(out.stdout)["services"]["web"]["environment"][name] == "false"


def test_deploy_sh_can_turn_https_off_for_a_trial(fake_karmada_kubeconfig):
    from deploytools import deploy, load_all

    def config(**env: str) -> dict[str, str]:
        result = deploy("--dry-run", KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig), **env)
        assert result.returncode == 0, result.stderr
        return next(o for o in load_all(result.stdout) if o["kind"] == "ConfigMap")["data"]

    assert config()["SECURE_SSL_REDIRECT"] == "true"
    plain = config(PLAIN_HTTP="1")
    assert plain["SECURE_SSL_REDIRECT"] == "false" and plain["SECURE_HSTS_SECONDS"] == "0"
    assert plain["SESSION_COOKIE_SECURE"] == "false" and plain["CSRF_COOKIE_SECURE"] == "false"
