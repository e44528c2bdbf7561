"""Inventory and placement against the real testbed: Karmada's Cluster objects mirrored into
the platform, and jobs offered only to clusters that can hold them.

member-cluster-1 has 4 nodes x (16 CPU, 64 GiB, 4 GPUs); member-cluster-2 has
4 x (32 CPU, 128 GiB) and no GPUs. Other sessions may share the testbed, so free capacity
is never assumed to be the full allocatable.
"""

from __future__ import annotations

import base64
import re
import socket
import uuid

import pytest
from django.test import Client

from clusters.client import ResourceRef, ref_for
from clusters.models import MemberCluster
from clusters.services import cluster_inventory_sync
from jobs.models import NamespaceGrant, TrainingJob
from testbed.polling import wait_for

pytestmark = pytest.mark.testbed

NAMESPACE = "placement-e2e"
M1, M2 = "member-cluster-1", "member-cluster-2"


def _body(name: str, *, cpu=1, memory=2, gpu=0, instances=1, targets=()) -> dict:
    return {
        "jobName": name,
        "namespace": NAMESPACE,
        "algorithm": {"source": "default", "algorithmName": "pytorch"},
        "resources": {
            "instanceResources": {"cpuCores": cpu, "memoryGiB": memory, "gpuCount": gpu},
            "instanceCount": instances,
            "volumeSizeGB": 0,
        },
        "hyperparameters": {"pytorch": {}},
        "targetClusters": list(targets),
    }


@pytest.fixture
def api(engineer, karmada):
    NamespaceGrant.objects.create(user=engineer, namespace=NAMESPACE)
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=engineer).key}")
    yield client
    # The testbed is shared: take the jobs' CRs and policies off Karmada (its garbage
    # collection and the members' remove the rest) before the rows go.
    for job in TrainingJob.objects.all():
        for obj in job.manifests:
            karmada.delete(ref_for(obj))


@pytest.fixture
def synced(karmada, transactional_db) -> dict[str, MemberCluster]:
    """The inventory as a fresh sync against the testbed leaves it."""
    cluster_inventory_sync()
    return {c.name: c for c in MemberCluster.objects.filter(name__in=[M1, M2])}


def _create(api, body: dict):
    return api.post("/api/v1/jobs", body, format="json")


def _error(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 400, (response.status_code, response.content)
    error = response.json()["error"]
    return error["message"], error.get("fields") or {}


def _binding(karmada, job: TrainingJob) -> dict | None:
    kind = job.manifests[0]["kind"].lower()
    return karmada.get(
        ResourceRef(
            "work.karmada.io/v1alpha2",
            "ResourceBinding",
            "resourcebindings",
            job.namespace,
            f"{job.k8s_name}-{kind}",
        )
    )


def _scheduled_clusters(karmada, job: TrainingJob, timeout: float = 60) -> list[str]:
    binding = wait_for(
        lambda: (b := _binding(karmada, job)) and (b.get("spec") or {}).get("clusters") and b,
        timeout=timeout,
        message=f"{job.k8s_name} scheduled by Karmada",
    )
    return [c["name"] for c in binding["spec"]["clusters"]]


def _pods(karmada, cluster: str, job: TrainingJob) -> list[dict]:
    return karmada.member_pods(cluster, job.namespace, f"mlplatform.io/job-id={job.id}")


# --- inventory ----------------------------------------------------------------------------


def test_the_inventory_sync_mirrors_the_testbeds_clusters(synced):
    m1, m2 = synced[M1], synced[M2]
    for cluster in (m1, m2):
        assert cluster.ready and cluster.present, cluster.ready_message
        assert re.fullmatch(r"v1\.35\.\d+", cluster.kubernetes_version), cluster.kubernetes_version
        assert cluster.node_count == 4
        assert cluster.sync_mode == "Push"
        assert cluster.last_synced_at is not None
    assert (m1.cpu_allocatable, m1.memory_allocatable_gib, m1.gpu_allocatable) == (64, 256, 16)
    assert (m2.cpu_allocatable, m2.memory_allocatable_gib, m2.gpu_allocatable) == (128, 512, 0)
    assert m1.has_gpu and not m2.has_gpu
    # Listed through Karmada's cluster proxy: each instance's pod must fit one node.
    assert m1.node_shapes == [{"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 4}]
    assert m2.node_shapes == [{"cpu": 32.0, "memoryGiB": 128.0, "gpu": 0.0, "count": 4}]
    for cluster in (m1, m2):
        assert 0 <= cluster.cpu_allocated <= cluster.cpu_allocatable
        assert 0 <= cluster.memory_allocated_gib <= cluster.memory_allocatable_gib
    assert 0 <= m1.gpu_allocated <= 16 and m2.gpu_allocated == 0


def test_the_clusters_page_and_api_show_the_synced_inventory(synced, api, engineer, operator):
    clusters = {c["name"]: c for c in api.get("/api/v1/clusters").json()}
    assert clusters[M1]["ready"] and clusters[M2]["ready"]
    assert clusters[M1]["gpuAllocatable"] == 16 and clusters[M2]["gpuAllocatable"] == 0
    assert clusters[M1]["cpuAllocatable"] == 64 and clusters[M2]["cpuAllocatable"] == 128
    assert clusters[M2]["memoryAllocatableGiB"] == 512
    assert clusters[M1]["kubernetesVersion"].startswith("v1.35.")
    assert clusters[M1]["lastSyncedAt"]
    assert clusters[M1]["nodes"] == [{"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 4}]

    page = Client()
    page.force_login(engineer)
    body = page.get("/clusters/").content.decode()
    assert M1 in body and M2 in body and "v1.35." in body and "Ready" in body
    assert "4 nodes of 16 CPU, 64 GiB, 4 GPU" in body and "4 nodes of 32 CPU, 128 GiB" in body
    # The create form offers them for targetClusters.
    form = page.get("/jobs/new").content.decode()
    assert f'value="{M1}"' in form and f'value="{M2}"' in form

    admin = Client()
    admin.force_login(operator)
    listing = admin.get("/admin/clusters/membercluster/").content.decode()
    assert M1 in listing and M2 in listing
    detail = admin.get(f"/admin/clusters/membercluster/{synced[M1].pk}/change/").content.decode()
    assert "4 nodes of 16 CPU, 64 GiB, 4 GPU" in detail


# --- refusals at submission ----------------------------------------------------------------


def test_a_gpu_job_named_only_for_the_cpu_cluster_is_refused(synced, api):
    message, fields = _error(_create(api, _body("gpu-on-cpu", gpu=1, targets=[M2])))
    text = " ".join([message, *fields.get("resources", [])])
    assert f"{M2} has no GPUs" in text, text
    assert not TrainingJob.objects.exists()


def test_a_job_larger_than_every_cluster_is_refused_saying_what_is_short_where(synced, api):
    # 10 x (20 CPU, 100 GiB) = 200 CPU, 1000 GiB: more than either cluster has at all.
    body = _body("too-big", cpu=20, memory=100, instances=10)
    message, fields = _error(_create(api, body))
    (reason,) = fields["resources"]
    assert "does not fit" in message
    for cluster in (M1, M2):
        assert re.search(rf"{cluster} needs 200 CPU, [\d.]+ in all", reason), reason
        assert re.search(rf"{cluster} needs 1000 GiB memory, [\d.]+ GiB in all", reason), reason
    assert not TrainingJob.objects.exists()


def test_a_gpu_job_larger_than_the_gpu_clusters_free_gpus_is_refused(synced, api):
    # 20 GPUs: more than member-cluster-1's 16; member-cluster-2 has none at all.
    _, fields = _error(_create(api, _body("many-gpus", gpu=4, instances=5)))
    (reason,) = fields["resources"]
    assert re.search(rf"{M1} needs 20 GPU, [\d.]+ in all", reason), reason
    assert f"{M2} has no GPUs" in reason


def test_an_instance_larger_than_every_node_of_the_named_cluster_is_refused(synced, api):
    # 20 CPU: member-cluster-1 has 64 cores, but on nodes of 16. Accepted, its pod would
    # stay Pending ("0/4 nodes are available: 4 Insufficient cpu") for ever.
    _, fields = _error(_create(api, _body("too-wide", cpu=20, memory=4, targets=[M1])))
    (reason,) = fields["resources"]
    assert (
        f"{M1} has no node that can hold one instance (it needs 20 CPU on one node, "
        "the largest has 16)" in reason
    ), reason


def test_more_gpus_per_instance_than_any_node_has_are_refused_everywhere(synced, api):
    _, fields = _error(_create(api, _body("wide-gpu", cpu=2, memory=8, gpu=8)))
    (reason,) = fields["resources"]
    assert "8 GPU on one node, the largest has 4" in reason and M1 in reason
    assert f"{M2} has no GPUs" in reason


def test_more_instances_than_the_nodes_can_hold_are_refused(synced, api):
    # 5 x 12 CPU = 60 of member-cluster-1's 64 cores, but a 16-core node holds one.
    _, fields = _error(
        _create(api, _body("five-wide", cpu=12, memory=8, instances=5, targets=[M1]))
    )
    (reason,) = fields["resources"]
    assert f"{M1}'s nodes can hold at most 4 of the 5 instances" in reason, reason


def test_an_unknown_cluster_is_refused_by_name(synced, api):
    _, fields = _error(_create(api, _body("nowhere", targets=["atlantis"])))
    (reason,) = fields["targetClusters"]
    assert "atlantis" in reason and "Unknown cluster" in reason
    assert M1 in reason and M2 in reason  # it lists the known ones


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_cluster(testbed, karmada, request) -> str:
    """A Cluster joined to Karmada in Push mode, as `karmadactl join` would, whose API
    endpoint is a closed local port: Karmada reports it not Ready at once."""
    from testbed import runtime

    lay = runtime.current_layout()
    kube = lay.kube("karmada")
    name = f"placement-down-{uuid.uuid4().hex[:6]}"
    token = base64.b64encode(b"not-a-real-token").decode()
    ca = base64.b64encode((lay.pki / "ca.crt").read_bytes()).decode()
    secrets = [
        {"name": name, "data": {"token": token, "caBundle": ca}},
        {"name": f"{name}-impersonator", "data": {"token": token}},
    ]

    def remove() -> None:
        # Not waited for: Karmada's finalizer takes ~20 s and nothing depends on it.
        kube.delete("cluster.karmada.io/v1alpha1", "Cluster", name)
        for secret in secrets:
            kube.delete("v1", "Secret", secret["name"], "karmada-cluster")
        kube.close()

    request.addfinalizer(remove)
    for secret in secrets:
        kube.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": secret["name"], "namespace": "karmada-cluster"},
                "data": secret["data"],
            }
        )
    kube.apply(
        {
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {
                "syncMode": "Push",
                "apiEndpoint": f"https://127.0.0.1:{_free_port()}",
                "secretRef": {"namespace": "karmada-cluster", "name": name},
                "impersonatorSecretRef": {
                    "namespace": "karmada-cluster",
                    "name": f"{name}-impersonator",
                },
            },
        }
    )

    def reported_not_ready() -> bool:
        obj = kube.get("cluster.karmada.io/v1alpha1", "Cluster", name) or {}
        return any(
            c.get("type") == "Ready" and c.get("status") == "False"
            for c in (obj.get("status") or {}).get("conditions") or []
        )

    wait_for(reported_not_ready, timeout=60, message=f"Karmada to report {name} not Ready")
    return name


def test_a_cluster_that_is_not_ready_is_refused_by_name(unreachable_cluster, synced, api, engineer):
    down = MemberCluster.objects.get(name=unreachable_cluster)
    assert not down.ready and down.present
    assert "not reachable" in down.ready_message

    body = _body("to-a-down-cluster", targets=[M2, unreachable_cluster])
    _, fields = _error(_create(api, body))
    (reason,) = fields["targetClusters"]
    assert f"Cluster '{unreachable_cluster}' is not ready" in reason, reason
    assert "not reachable" in reason

    # Named by nobody, it is simply not a candidate.
    listed = {c["name"]: c["ready"] for c in api.get("/api/v1/clusters").json()}
    assert listed[unreachable_cluster] is False
    page = Client()
    page.force_login(engineer)
    assert "Not ready" in page.get("/clusters/").content.decode()


# --- where accepted jobs land (real worker and beat) ---------------------------------------


@pytest.fixture
def stack(celery_stack, karmada):
    return karmada


@pytest.mark.e2e
def test_the_inventory_is_refreshed_in_the_background(stack, transactional_db):
    MemberCluster.objects.all().delete()
    wait_for(
        lambda: MemberCluster.objects.filter(name__in=[M1, M2], ready=True).count() == 2,
        timeout=30,
        message="the beat's inventory sync to mirror both members",
    )
    assert MemberCluster.objects.get(name=M1).gpu_allocatable == 16


@pytest.mark.e2e
def test_a_gpu_job_without_targets_is_offered_only_the_gpu_cluster_and_lands_there(
    stack, synced, api
):
    karmada = stack
    response = _create(api, _body("gpu-anywhere", gpu=1, instances=2))
    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get(id=response.json()["id"])
    assert job.candidate_clusters == [M1]
    policy = wait_for(
        lambda: karmada.get(ref_for(job.manifests[1])), timeout=30, message="policy on Karmada"
    )
    assert policy["spec"]["placement"]["clusterAffinity"]["clusterNames"] == [M1]
    assert _scheduled_clusters(karmada, job) == [M1]
    # The operator creates the pods before the member's scheduler binds them: wait for both.
    pods = wait_for(
        lambda: (
            len(p := _pods(karmada, M1, job)) == 2
            and all(pod["spec"].get("nodeName") for pod in p)
            and p
        ),
        timeout=60,
        message="2 GPU pods in member-cluster-1, each bound to a node",
    )
    for pod in pods:
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == "1"


@pytest.mark.e2e
def test_an_instance_too_wide_for_the_gpu_clusters_nodes_goes_to_the_other(stack, synced, api):
    karmada = stack
    response = _create(api, _body("wide-cpu", cpu=20, memory=8))
    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get(id=response.json()["id"])
    assert job.candidate_clusters == [M2]
    assert _scheduled_clusters(karmada, job) == [M2]
    (pod,) = wait_for(
        lambda: (p := _pods(karmada, M2, job)) and p[0]["spec"].get("nodeName") and p,
        timeout=60,
        message="the 20-CPU pod bound to a node of member-cluster-2",
    )
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "20"


@pytest.mark.e2e
def test_a_job_named_for_both_clusters_runs_whole_in_exactly_one(stack, synced, api):
    karmada = stack
    body = _body("either-cluster", cpu=2, memory=4, instances=3, targets=[M1, M2])
    response = _create(api, body)
    assert response.status_code == 201, response.content
    job = TrainingJob.objects.get(id=response.json()["id"])
    assert sorted(job.candidate_clusters) == [M1, M2]

    (chosen,) = _scheduled_clusters(karmada, job)
    other = M2 if chosen == M1 else M1
    pods = wait_for(
        lambda: len(p := _pods(karmada, chosen, job)) == 3 and p,
        timeout=60,
        message=f"3 pods in {chosen}",
    )
    assert sorted(p["metadata"]["labels"]["training.kubeflow.org/replica-type"] for p in pods) == [
        "master",
        "worker",
        "worker",
    ]
    assert _pods(karmada, other, job) == []
    final = wait_for(
        lambda: (
            (s := api.get(f"/api/v1/jobs/{job.id}").json())["status"] in ("Succeeded", "Failed")
            and s
        ),
        timeout=90,
        message="the job to finish",
    )
    assert final["status"] == "Succeeded" and final["cluster"] == chosen
    assert _pods(karmada, other, job) == []
    assert len(_binding(karmada, job)["spec"]["clusters"]) == 1


@pytest.mark.e2e
def test_a_burst_of_small_jobs_lands_on_both_clusters(stack, synced, api):
    """Spread: each job's first choice is drawn in proportion to free CPU, and Karmada
    binds it there (the other candidates are only its fallback)."""
    karmada = stack
    jobs = []
    for i in range(20):
        response = _create(api, _body(f"burst-{i}", cpu=0.1, memory=0.25))
        assert response.status_code == 201, response.content
        job = TrainingJob.objects.get(id=response.json()["id"])
        assert sorted(job.candidate_clusters) == [M1, M2]
        jobs.append(job)
    landed = {job.id: _scheduled_clusters(karmada, job) for job in jobs}
    for job in jobs:
        # Bound where the platform preferred, whole, in one cluster.
        assert landed[job.id] == job.candidate_clusters[:1]
    per_cluster = {M1: 0, M2: 0}
    for clusters in landed.values():
        per_cluster[clusters[0]] += 1
    assert per_cluster[M1] > 0 and per_cluster[M2] > 0, per_cluster
