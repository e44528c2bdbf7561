"""Training pods under Pod Security admission on the testbed's real member clusters.

The platform's manifests are created on Karmada in a namespace the platform created, and
the pods the operators make of them must be admitted by the member's kube-apiserver: a
training-operator kind under ``restricted``, an MPIJob (root for sshd) under ``baseline``.
"""

from __future__ import annotations

import uuid

import pytest

from clusters.client import ClusterError, ref_for
from jobs.manifests import build_manifests
from jobs.selectors import job_pod_selector
from jobs.tests.test_manifests import make_job
from testbed.polling import wait_for

pytestmark = pytest.mark.testbed

CLUSTER = "member-cluster-2"
PSA = "pod-security.kubernetes.io/"


def _namespace(karmada, settings, level: str) -> str:
    name = f"psa-{level}-{uuid.uuid4().hex[:6]}"
    settings.POD_SECURITY_LEVEL = level
    karmada.ensure_namespace(name)
    return name


def _member_namespace_object(karmada, namespace: str) -> dict | None:
    try:
        return karmada.member_get(CLUSTER, f"/api/v1/namespaces/{namespace}")
    except ClusterError as exc:
        if exc.status == 404:  # not propagated yet
            return None
        raise


def _labels(obj: dict | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _run(karmada, namespace: str, framework: str, **fields) -> list[dict]:
    """Create the job's manifests on Karmada; return its pods once the member made them all."""
    job = make_job(
        framework,
        namespace=namespace,
        id=uuid.uuid4(),
        name=f"psa-{framework}",
        candidate_clusters=[CLUSTER],
        cpu_cores=0.5,
        memory_gib=0.5,
        **fields,
    )
    manifests = build_manifests(job)
    for obj in manifests:
        karmada.create(obj)
    expected = sum(r["replicas"] for r in manifests[0]["spec"][_specs_key(manifests[0])].values())
    try:
        return wait_for(
            lambda: (
                pods
                if len(pods := karmada.member_pods(CLUSTER, namespace, job_pod_selector(job)))
                >= expected
                else None
            ),
            timeout=120,
            message=f"{expected} pods of {job.k8s_name} admitted in {CLUSTER}/{namespace}",
        )
    finally:
        for obj in reversed(manifests):
            karmada.delete(ref_for(obj))


def _specs_key(workload: dict) -> str:
    return next(k for k in workload["spec"] if k.endswith("ReplicaSpecs"))


def test_platform_namespaces_carry_the_configured_level(karmada, settings):
    namespace = _namespace(karmada, settings, "restricted")
    labels = _labels(karmada.core.read_namespace(namespace).to_dict())
    assert labels[PSA + "enforce"] == "restricted"
    assert labels[PSA + "warn"] == "restricted" and labels[PSA + "audit"] == "restricted"
    assert labels["app.kubernetes.io/managed-by"] == "mlplatform"
    # Karmada propagates the namespace, labels included: the member's admission enforces it.
    member = wait_for(
        lambda: _member_namespace_object(karmada, namespace),
        timeout=60,
        message=f"namespace {namespace} on {CLUSTER}",
    )
    assert _labels(member)[PSA + "enforce"] == "restricted"


def test_the_default_level_is_baseline(karmada, settings):
    from mlplatform import settings as configured

    assert configured.POD_SECURITY_LEVEL == "baseline"
    namespace = _namespace(karmada, settings, configured.POD_SECURITY_LEVEL)
    assert _labels(karmada.core.read_namespace(namespace).to_dict())[PSA + "enforce"] == "baseline"


def _member_namespace(karmada, settings, level: str) -> str:
    namespace = _namespace(karmada, settings, level)
    wait_for(
        lambda: _member_namespace_object(karmada, namespace),
        timeout=60,
        message=f"namespace {namespace} on {CLUSTER}",
    )
    return namespace


def _assert_restricted_fields(pods: list[dict]) -> None:
    for pod in pods:
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = spec["containers"][0]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        # No token volume was mounted by the service-account machinery.
        assert not any(
            m["mountPath"].startswith("/var/run/secrets/kubernetes.io")
            for m in container.get("volumeMounts", [])
        )


@pytest.mark.parametrize(
    ("framework", "instances"), [("xgboost", 2), ("jax", 2), ("tensorflow", 2), ("pytorch", 1)]
)
def test_training_operator_jobs_run_under_restricted(karmada, settings, framework, instances):
    namespace = _member_namespace(karmada, settings, "restricted")
    pods = _run(karmada, namespace, framework, instance_count=instances, volume_size_gb=1)
    assert len(pods) == instances
    _assert_restricted_fields(pods)


def test_distributed_pytorch_needs_baseline_for_the_operators_init_container(karmada, settings):
    """training-operator v1.9 adds an init container (`init-pytorch`, waiting for the
    master's DNS name) to PyTorch workers, from its own template without a securityContext:
    restricted refuses those pods unless the operator is started with a
    --pytorch-init-container-template-file that sets one. Baseline admits them."""
    namespace = _member_namespace(karmada, settings, "baseline")
    pods = _run(karmada, namespace, "pytorch", instance_count=2)
    _assert_restricted_fields(pods)
    worker = next(p for p in pods if "worker" in p["metadata"]["name"])
    assert [c["name"] for c in worker["spec"]["initContainers"]] == ["init-pytorch"]


def test_an_mpi_job_runs_under_baseline(karmada, settings):
    namespace = _member_namespace(karmada, settings, "baseline")
    pods = _run(karmada, namespace, "horovod", instance_count=2)
    roles = sorted(p["metadata"]["labels"].get("training.kubeflow.org/job-role") for p in pods)
    assert roles == ["launcher", "worker", "worker"]
    for pod in pods:
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert pod["spec"]["containers"][0]["securityContext"] == {
            "allowPrivilegeEscalation": False
        }
