"""docker-compose.yml, checked by Compose itself (`config`, client only: no engine needed)."""

from __future__ import annotations

import os
import sys

import yaml
from deploytools import REPO, compose_command, compose_commands, compose_env, run

COMPOSE = REPO / "docker-compose.yml"


def config(env: dict[str, str], check: bool = True):
    return run(
        [*compose_command(), "-f", str(COMPOSE), "config"], env=compose_env(**env), check=check
    )


def services(kubeconfig) -> dict:
    return yaml.safe_load(config({"KARMADA_KUBECONFIG": str(kubeconfig)}).stdout)["services"]


def test_every_compose_here_accepts_the_file(fake_karmada_kubeconfig):
    env = compose_env(KARMADA_KUBECONFIG=str(fake_karmada_kubeconfig))
    for compose in compose_commands():
        result = run([*compose, "-f", str(COMPOSE), "config"], env=env)
        assert "mlplatform" in result.stdout, compose
    assert set(services(fake_karmada_kubeconfig)) == {
        "setup",
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
    }


def test_it_asks_for_the_karmada_kubeconfig():
    result = config({}, check=False)
    assert result.returncode != 0
    assert "set KARMADA_KUBECONFIG" in result.stdout + result.stderr


def test_startup_order_waits_for_health_and_migration(fake_karmada_kubeconfig):
    s = services(fake_karmada_kubeconfig)
    assert s["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        deps = s[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["redis"]["condition"] == "service_healthy", name
    for name in ("postgres", "redis", "worker"):
        assert s[name]["healthcheck"]["test"], name
    # web uses the image's HEALTHCHECK (GET /health); it must not be switched off.
    assert "healthcheck" not in s["web"] or not s["web"]["healthcheck"].get("disable")


def test_data_and_kubeconfig_mounts(fake_karmada_kubeconfig):
    s = services(fake_karmada_kubeconfig)
    pg_mounts = s["postgres"]["volumes"]
    assert any(
        (m["target"] if isinstance(m, dict) else m.split(":")[1]) == "/var/lib/postgresql/data"
        for m in pg_mounts
    )
    binds = [m for m in s["setup"]["volumes"] if isinstance(m, dict) and m["type"] == "bind"]
    assert binds and binds[0]["source"] == str(fake_karmada_kubeconfig)
    assert binds[0]["read_only"] is True


def test_web_is_published_on_the_documented_port(fake_karmada_kubeconfig):
    (port,) = services(fake_karmada_kubeconfig)["web"]["ports"]
    published = port["published"] if isinstance(port, dict) else port.split(":")[0]
    target = port["target"] if isinstance(port, dict) else port.split(":")[1]
    assert str(published) == "8000" and str(target) == "8000"


def test_the_platform_runs_hardened(fake_karmada_kubeconfig):
    s = services(fake_karmada_kubeconfig)
    for name in ("migrate", "web", "worker", "beat"):
        assert s[name]["read_only"] is True, name
        assert s[name]["cap_drop"] == ["ALL"], name
        assert "user" not in s[name], name  # the image's non-root user


def test_the_setup_script_is_valid_python(fake_karmada_kubeconfig):
    command = services(fake_karmada_kubeconfig)["setup"]["command"]
    assert command[:2] == ["python", "-c"]
    compile(command[2], "setup", "exec")


def test_the_setup_script_generates_once_and_warns(fake_karmada_kubeconfig, tmp_path):
    """The setup service's script, run here with its paths moved into tmp_path: secrets
    are made once and kept, the kubeconfig is copied, a loopback server is warned about."""
    script = services(fake_karmada_kubeconfig)["setup"]["command"][2]
    out, pg = tmp_path / "secrets", tmp_path / "db-secret"
    out.mkdir()
    pg.mkdir()
    kubeconfig = tmp_path / "karmada.yaml"
    kubeconfig.write_text(
        fake_karmada_kubeconfig.read_text().replace("karmada.example", "127.0.0.1")
    )
    script = (
        script.replace("/run/mlplatform", str(out))
        .replace("/run/postgres-secret", str(pg))
        .replace("/input/karmada.yaml", str(kubeconfig))
    )
    if os.geteuid() != 0:  # the service runs as root; elsewhere only the owner changes
        script = "import os\nos.chown = lambda *a: None\n" + script

    def setup() -> str:
        for f in (*out.iterdir(), *pg.iterdir()):
            f.chmod(0o600)  # root ignores 0400; a non-root run must be able to rewrite
        return run([sys.executable, "-c", script]).stdout

    first = setup()
    assert "generated the database password" in first
    assert "127.0.0.1" in first and "WARNING" in first
    password = (pg / "POSTGRES_PASSWORD").read_text()
    key = (out / "SECRET_KEY").read_text()
    assert len(password) >= 32 and len(key) >= 50
    assert (out / "DATABASE_URL").read_text() == (
        f"postgres://mlplatform:{password}@postgres:5432/mlplatform"
    )
    assert (out / "karmada.yaml").read_text() == kubeconfig.read_text()
    second = setup()
    assert "generated" not in second
    assert (pg / "POSTGRES_PASSWORD").read_text() == password
    assert (out / "SECRET_KEY").read_text() == key
