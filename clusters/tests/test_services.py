"""Inventory parsing and placement decisions (database, no cluster)."""

import pytest

from clusters.models import MemberCluster
from clusters.services import Demand, _inventory_fields, placement_candidates
from jobs.exceptions import SpecError

pytestmark = pytest.mark.django_db


def karmada_cluster(name, *, ready=True, cpu="64", memory="256Gi", gpu=None, used_cpu="0"):
    allocatable = {"cpu": cpu, "memory": memory, "pods": "440"}
    if gpu:
        allocatable["nvidia.com/gpu"] = gpu
    return {
        "metadata": {"name": name},
        "spec": {"syncMode": "Push", "apiEndpoint": "https://127.0.0.1:1"},
        "status": {
            "kubernetesVersion": "v1.35.4",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "message": "cluster is healthy and ready to accept workloads",
                }
            ],
            "nodeSummary": {"totalNum": 4, "readyNum": 4},
            "resourceSummary": {
                "allocatable": allocatable,
                "allocated": {"cpu": used_cpu, "memory": "8Gi"},
                "allocating": {"cpu": "500m"},
            },
        },
    }


def test_it_reads_karmadas_resource_summary():
    fields = _inventory_fields(karmada_cluster("m1", gpu="16", used_cpu="3500m"))
    assert fields["ready"] is True
    assert fields["cpu_allocatable"] == 64
    assert fields["cpu_allocated"] == 4.0  # allocated + allocating
    assert fields["memory_allocatable_gib"] == 256
    assert fields["memory_allocated_gib"] == 8
    assert fields["gpu_allocatable"] == 16
    assert fields["kubernetes_version"] == "v1.35.4"
    assert fields["node_count"] == 4


def test_it_treats_a_cluster_without_status_as_not_ready():
    fields = _inventory_fields({"metadata": {"name": "new"}, "spec": {}})
    assert fields["ready"] is False and fields["cpu_allocatable"] == 0


@pytest.fixture
def fleet():
    MemberCluster.objects.create(
        name="gpu", ready=True, cpu_allocatable=64, memory_allocatable_gib=256, gpu_allocatable=16
    )
    MemberCluster.objects.create(
        name="cpu", ready=True, cpu_allocatable=128, memory_allocatable_gib=512
    )
    MemberCluster.objects.create(name="down", ready=False, ready_message="cluster is not reachable")


def test_it_offers_every_ready_cluster_when_none_is_named(fleet):
    assert sorted(placement_candidates(target_clusters=[], demand=Demand(1, 1, 0))) == [
        "cpu",
        "gpu",
    ]


def test_it_never_offers_a_gpu_job_to_a_cluster_without_gpus(fleet):
    assert placement_candidates(target_clusters=[], demand=Demand(1, 1, 1)) == ["gpu"]


def test_it_refuses_a_gpu_job_named_only_for_a_cpu_cluster(fleet):
    with pytest.raises(SpecError) as err:
        placement_candidates(target_clusters=["cpu"], demand=Demand(1, 1, 2))
    assert "cpu has no GPUs" in err.value.fields["resources"][0]


def test_it_says_which_resource_is_short_where(fleet):
    with pytest.raises(SpecError) as err:
        placement_candidates(target_clusters=[], demand=Demand(200, 300, 0))
    text = err.value.fields["resources"][0]
    assert "gpu needs 200 CPU, 64 free" in text
    assert "gpu needs 300 GiB memory, 256 GiB free" in text
    assert "cpu needs 200 CPU, 128 free" in text
    assert "cpu needs 300 GiB" not in text  # 300 GiB fits in 512: only its CPU is short


def test_it_rejects_unknown_and_unready_clusters_by_name(fleet):
    with pytest.raises(SpecError) as err:
        placement_candidates(target_clusters=["nope", "down"], demand=Demand(1, 1, 0))
    reasons = err.value.fields["targetClusters"]
    assert any("Unknown cluster 'nope'" in r for r in reasons)
    assert any("'down' is not ready: cluster is not reachable" in r for r in reasons)


def test_it_counts_every_instance_against_one_cluster():
    MemberCluster.objects.create(
        name="small", ready=True, cpu_allocatable=8, memory_allocatable_gib=64
    )
    demand = Demand.of(cpu_cores=4, memory_gib=8, gpu_count=0, instances=3)
    with pytest.raises(SpecError):
        placement_candidates(target_clusters=["small"], demand=demand)
