"""deploy.sh's real (non-dry-run) path: the order of its steps, its waits, the URL it
prints, and that it never replaces a stored secret it could not read.

A real deploy needs nodes that run containers, which no machine here has (the testbed's
nodes are simulated, and its member clusters are shared by the other tests). So `kubectl`
is replaced by a recorder that answers like a cluster would; kustomize and kubeconfig
handling still go to the real kubectl. The API servers' side is covered by
test_testbed_dry_run.py.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from deploytools import clean_env, find_tool, run

FAKE = r"""#!PYTHON
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
real = os.environ["REAL_KUBECTL"]
VALUED = {"--namespace", "-n", "--context", "--kubeconfig", "-o", "-f"}
words, skip = [], False
for a in args:
    if skip:
        skip = False
    elif a in VALUED:
        skip = True
    elif not a.startswith("-"):
        words.append(a)
joined = " ".join(args)

def say(text=""):
    sys.stdout.write(text)
    sys.exit(0)

if words[:1] in (["kustomize"], ["config"]) or args[:2] == ["version", "--client"]:
    os.execv(real, [real, *args])
if "/readyz" in args:
    say("ok")
if words[:2] == ["get", "clusters.cluster.karmada.io"]:
    say("cluster.cluster.karmada.io/member-cluster-1\n")
if words[:2] == ["get", "secret"]:
    mode = os.environ.get("FAKE_SECRET", "none")
    if mode == "error":
        sys.stderr.write("Unable to connect to the server: i/o timeout\n")
        sys.exit(1)
    if mode == "stored" and "POSTGRES_PASSWORD" in joined:
        import base64
        say(base64.b64encode(b"stored-password").decode())
    say("")
if words[:2] == ["get", "nodes"]:
    if "InternalIP" in joined:
        say("10.0.0.5")
    if "ExternalIP" in joined:
        say("")
    say("10.0.0.5,node-a,")
if words[:1] == ["apply"]:
    path = args[args.index("-f") + 1]
    text = sys.stdin.read() if path == "-" else open(path).read()
    if "--kubeconfig" not in args:  # the platform's objects, not Karmada's
        with open(os.environ["FAKE_LOG"] + ".manifests", "w") as out:
            out.write(text)
    say("applied\n")
if words[:2] == ["get", "job"]:
    state = os.environ.get("FAKE_JOB", "Complete")
    counter = os.environ["FAKE_LOG"] + ".jobpolls"
    polls = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(polls + 1))
    if "--ignore-not-found" in args and polls == 0:
        say(os.environ.get("FAKE_PREVIOUS_JOB", ""))  # before the apply
    say("" if polls < 2 else f"{state} ")  # running for a poll, then done
if words[:2] == ["rollout", "status"]:
    say("successfully rolled out\n")
if words[:2] == ["get", "service"]:
    say("NodePort" if "spec.type" in joined else "30180")
if words[:1] in (["delete"], ["logs"], ["get"]):
    say("")
sys.stderr.write("fake kubectl: unexpected " + joined + "\n")
sys.exit(2)
"""


@pytest.fixture
def fake_kubectl(tmp_path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kubectl"
    fake.write_text(FAKE.replace("PYTHON", sys.executable, 1))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def deploy_for_real(fake_kubectl, karmada, **env):
    log = fake_kubectl.parent / "calls.jsonl"
    environment = clean_env(
        KARMADA_KUBECONFIG=str(karmada),
        FAKE_LOG=str(log),
        REAL_KUBECTL=find_tool("kubectl"),
        BUILD="never",
        **env,
    )
    environment["PATH"] = f"{fake_kubectl}:{environment['PATH']}"
    result = run(
        ["bash", str(Path(__file__).parents[1] / "deploy.sh")], env=environment, check=False
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def words(call: list[str]) -> list[str]:
    """The command's words, without flags and their values."""
    result, skip = [], False
    for a in call:
        if skip:
            skip = False
        elif a in {"--namespace", "-n", "--context", "--kubeconfig", "-o", "-f"}:
            skip = True
        elif not a.startswith("-"):
            result.append(a)
    return result


def step(call: list[str]) -> str:
    words_ = words(call)
    if words_[:2] == ["rollout", "status"]:
        return f"rollout {words_[2]}"
    if words_[:1] == ["apply"]:
        return "apply karmada" if "--kubeconfig" in call else "apply platform"
    if words_[:2] == ["get", "job"]:
        return "wait job"
    return ""


def test_it_applies_waits_in_order_and_prints_the_url(fake_kubectl, fake_karmada_kubeconfig):
    result, calls = deploy_for_real(fake_kubectl, fake_karmada_kubeconfig)
    assert result.returncode == 0, result.stderr
    steps = [s for s in map(step, calls) if s]
    deduped = [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s]
    assert deduped == [
        "apply karmada",
        "wait job",  # is a failed Job of this release there to retry?
        "apply platform",
        "rollout statefulset/postgres",
        "rollout deployment/redis",
        "wait job",
        "rollout deployment/mlplatform-web",
        "rollout deployment/mlplatform-worker",
        "rollout deployment/mlplatform-beat",
    ]
    assert "http://10.0.0.5:30180" in result.stdout
    assert "createsuperuser" in result.stdout
    # Every apply is server-side with one field manager, and for real.
    for call in calls:
        if words(call)[:1] == ["apply"]:
            assert "--server-side" in call and "--field-manager=mlplatform-deploy" in call
            assert not any(a.startswith("--dry-run") for a in call)
    # The node's address was added to ALLOWED_HOSTS.
    manifests = (fake_kubectl.parent / "calls.jsonl.manifests").read_text()
    assert "10.0.0.5" in manifests and "node-a" in manifests


def test_it_stops_when_the_migration_fails(fake_kubectl, fake_karmada_kubeconfig):
    result, calls = deploy_for_real(fake_kubectl, fake_karmada_kubeconfig, FAKE_JOB="Failed")
    assert result.returncode != 0
    assert "the migration failed" in result.stderr
    assert "docs/operations.md" in result.stderr
    assert any(words(c)[:1] == ["logs"] for c in calls)
    assert not any("deployment/mlplatform-web" in c for c in calls if "rollout" in c)


def test_it_retries_a_failed_migration_of_the_same_release(fake_kubectl, fake_karmada_kubeconfig):
    result, calls = deploy_for_real(
        fake_kubectl, fake_karmada_kubeconfig, FAKE_PREVIOUS_JOB="FailureTarget Failed "
    )
    assert result.returncode == 0, result.stderr
    deletes = [c for c in calls if words(c)[:2] == ["delete", "job"]]
    assert deletes and any(a.startswith("mlplatform-migrate-") for a in deletes[0])


def test_it_never_replaces_a_secret_it_could_not_read(fake_kubectl, fake_karmada_kubeconfig):
    """A new password would lock the platform out of its own database."""
    result, calls = deploy_for_real(fake_kubectl, fake_karmada_kubeconfig, FAKE_SECRET="error")
    assert result.returncode != 0
    assert "cannot read secret mlplatform-db" in result.stderr
    assert not any(step(c) == "apply platform" for c in calls)


def test_it_reuses_the_stored_password(fake_kubectl, fake_karmada_kubeconfig):
    result, _ = deploy_for_real(fake_kubectl, fake_karmada_kubeconfig, FAKE_SECRET="stored")
    assert result.returncode == 0, result.stderr
    manifests = (fake_kubectl.parent / "calls.jsonl.manifests").read_text()
    assert base64.b64encode(b"stored-password").decode() in manifests
    assert "generated a database password" not in result.stderr
    assert os.path.exists(fake_kubectl.parent / "calls.jsonl")
