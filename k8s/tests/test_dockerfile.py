"""The Dockerfile: hadolint's rules, the requirements of this deployment, and its build
steps replayed on this machine (no container engine here to run the real build)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from deploytools import BASE, REPO, by_kind, find_tool, kustomize, run

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_hadolint_accepts_it():
    result = run([find_tool("hadolint"), "--format", "json", str(DOCKERFILE)], check=False)
    findings = json.loads(result.stdout or "[]")
    assert not findings, findings


def test_it_is_multi_stage_and_ends_non_root():
    steps = instructions()
    assert sum(1 for w, _ in steps if w == "FROM") >= 2
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM") :]
    users = [arg for w, arg in final if w == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert any(w == "HEALTHCHECK" and "/health" in arg for w, arg in final)
    cmd = next(arg for w, arg in reversed(final) if w == "CMD")
    assert json.loads(cmd)[:2] == ["gunicorn", "mlplatform.wsgi:application"]


def test_the_image_user_matches_the_pods():
    steps = instructions()
    uid = int([arg for w, arg in steps if w == "USER"][-1].split(":")[0])
    for obj in kustomize(BASE):
        if obj["kind"] in {"Deployment", "Job"} and obj["metadata"]["name"].startswith(
            "mlplatform"
        ):
            assert obj["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_static_files_are_collected_at_build_time():
    runs = [arg for w, arg in instructions() if w == "RUN"]
    assert any("collectstatic --noinput" in r for r in runs)


def test_dockerignore_keeps_secrets_and_history_out():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".testbed", "var", ".env", "k8s"} <= ignored
    # ...but not the code the image runs.
    for needed in (
        "mlplatform",
        "jobs",
        "clusters",
        "templates",
        "static",
        "manage.py",
        "requirements.txt",
    ):
        assert needed not in ignored


def build_context(dest: Path) -> Path:
    """The files `docker build` would send, for the patterns .dockerignore uses here."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(rel: Path) -> bool:
        for pattern in patterns:
            if pattern.startswith("**/"):
                if rel.match(pattern[3:]) or any(p.match(pattern[3:]) for p in rel.parents):
                    return True
            elif any(part == pattern or Path(part).match(pattern) for part in rel.parts[:1]):
                return True
        return False

    def ignore(directory, names):
        return [n for n in names if ignored(Path(directory, n).relative_to(REPO))]

    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def dockerfile_env(step: str) -> dict[str, str]:
    """The VAR=value words in front of a RUN command."""
    env = {}
    for word in step.split():
        if "=" not in word or not word.split("=")[0].isupper():
            break
        key, value = word.split("=", 1)
        env[key] = value
    return env


def test_the_build_steps_work_on_the_build_context(tmp_path):
    """collectstatic and compileall, exactly as the build stage runs them, on exactly the
    files the build context holds: a setting that needs a secret, or a file the
    .dockerignore left out, fails here instead of in someone's image build."""
    context = build_context(tmp_path / "app")
    assert (context / "manage.py").exists() and not (context / ".git").exists()
    step = next(arg for w, arg in instructions() if w == "RUN" and "collectstatic" in arg)
    env = dockerfile_env(step)
    env["STATIC_ROOT"] = str(context / "staticfiles")
    env["MLPLATFORM_VAR_DIR"] = str(tmp_path / "build-var")
    clean = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(context),
        "DJANGO_SETTINGS_MODULE": "mlplatform.settings",
        **env,
    }
    run([sys.executable, "manage.py", "collectstatic", "--noinput"], env=clean, cwd=context)
    assert any((context / "staticfiles").rglob("*.css")) or any(
        (context / "staticfiles").rglob("*.js")
    )
    run([sys.executable, "-m", "compileall", "-q", str(context)], env=clean)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def k8s_web_env(tmp_path) -> dict[str, str]:
    """The web pod's environment from k8s/base, with its secret files made locally and
    pointing at the test suite's PostgreSQL and Redis."""
    objects = kustomize(BASE)
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    web = by_kind(objects)["Deployment", "mlplatform-web"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in web["containers"][0].get("env", [])}
    env.update(config)
    secrets = {
        "DATABASE_URL_FILE": os.environ.get("DATABASE_URL", ""),
        "SECRET_KEY_FILE": "test-secret-key-" + "x" * 40,
    }
    for name, value in secrets.items():
        path = tmp_path / name
        path.write_text(value)
        env[name] = str(path)
    env["REDIS_URL"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env["KARMADA_KUBECONFIG_PATH"] = str(tmp_path / "karmada.yaml")
    env["MLPLATFORM_VAR_DIR"] = str(tmp_path / "var")
    env["STATIC_ROOT"] = str(tmp_path / "static")
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": str(REPO),
            "DJANGO_SETTINGS_MODULE": "mlplatform.settings",
        }
    )
    return env


def test_the_web_command_answers_the_probe(k8s_web_env):
    """The Deployment's gunicorn command with the pod's settings answers GET /health with
    the probe's Host header, and refuses a Host outside ALLOWED_HOSTS."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail(
            "needs the suite's PostgreSQL: run scripts/test-services.sh, export DATABASE_URL"
        )
    web = by_kind(kustomize(BASE))["Deployment", "mlplatform-web"]["spec"]["template"]["spec"]
    command = list(web["containers"][0]["command"])
    port = free_port()
    command = [f"--bind=127.0.0.1:{port}" if a.startswith("--bind=") else a for a in command]
    command = [a for a in command if a != "--worker-tmp-dir=/dev/shm" or Path("/dev/shm").is_dir()]
    proc = subprocess.Popen(
        command,
        env=k8s_web_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/health", headers={"Host": "localhost"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert response.status == 200
                    assert json.loads(response.read()) == {"status": "healthy"}
                    break
            # A busy machine can leave a first answer slower than the read timeout.
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "gunicorn did not answer in 60s"
                time.sleep(0.2)
        bad = urllib.request.Request(
            f"http://127.0.0.1:{port}/health", headers={"Host": "10.1.2.3"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=5)
        assert refused.value.code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)
