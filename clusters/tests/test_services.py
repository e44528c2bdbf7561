"""Inventory parsing and placement decisions (database, no cluster)."""

import pytest

from clusters.client import ClusterError
from clusters.models import MemberCluster
from clusters.services import (
    Demand,
    PlacementError,
    _inventory_fields,
    cluster_inventory_sync,
    node_shapes,
    placement_candidates,
)

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
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=["cpu"], demand=Demand(1, 1, 2))
    assert "cpu has no GPUs" in err.value.reasons[0]


def test_it_says_which_resource_is_short_where(fleet):
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=[], demand=Demand(200, 300, 0))
    text = err.value.reasons[0]
    assert "gpu needs 200 CPU, 64 free" in text
    assert "gpu needs 300 GiB memory, 256 GiB free" in text
    assert "cpu needs 200 CPU, 128 free" in text
    assert "cpu needs 300 GiB" not in text  # 300 GiB fits in 512: only its CPU is short


def test_it_rejects_unknown_and_unready_clusters_by_name(fleet):
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=["nope", "down"], demand=Demand(1, 1, 0))
    assert err.value.field == "target_clusters"
    reasons = err.value.reasons
    assert any("Unknown cluster 'nope'" in r for r in reasons)
    assert any("'down' is not ready: cluster is not reachable" in r for r in reasons)


def test_it_counts_every_instance_against_one_cluster():
    MemberCluster.objects.create(
        name="small", ready=True, cpu_allocatable=8, memory_allocatable_gib=64
    )
    demand = Demand.of(cpu_cores=4, memory_gib=8, gpu_count=0, instances=3)
    with pytest.raises(PlacementError):
        placement_candidates(target_clusters=["small"], demand=demand)


# --- one instance is one pod: it must fit on one node ---------------------------------------


def kube_node(name, *, cpu="16", memory="64Gi", gpu=None, ready=True, cordoned=False):
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpu:
        allocatable["nvidia.com/gpu"] = gpu
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_it_groups_the_schedulable_ready_nodes_by_shape():
    shapes = node_shapes(
        [
            kube_node("a", gpu="4"),
            kube_node("b", gpu="4"),
            kube_node("c", cpu="32", memory="128Gi"),
            kube_node("cordoned", cpu="96", memory="512Gi", cordoned=True),
            kube_node("down", cpu="96", memory="512Gi", ready=False),
        ]
    )
    assert shapes == [
        {"cpu": 32.0, "memoryGiB": 128.0, "gpu": 0.0, "count": 1},
        {"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 2},
    ]


@pytest.fixture
def shaped_fleet():
    # As on the testbed: 4 GPU nodes of 16 CPU, and 4 larger CPU-only nodes.
    MemberCluster.objects.create(
        name="gpu",
        ready=True,
        cpu_allocatable=64,
        memory_allocatable_gib=256,
        gpu_allocatable=16,
        node_shapes=[{"cpu": 16, "memoryGiB": 64, "gpu": 4, "count": 4}],
    )
    MemberCluster.objects.create(
        name="cpu",
        ready=True,
        cpu_allocatable=128,
        memory_allocatable_gib=512,
        node_shapes=[{"cpu": 32, "memoryGiB": 128, "gpu": 0, "count": 4}],
    )


def demand(cpu, memory, gpu=0, instances=1):
    return Demand.of(cpu_cores=cpu, memory_gib=memory, gpu_count=gpu, instances=instances)


def test_it_refuses_an_instance_larger_than_every_node_of_the_named_cluster(shaped_fleet):
    # 20 CPU fits the cluster's 64 free cores, but no 16-core node.
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=["gpu"], demand=demand(20, 4))
    (reason,) = err.value.reasons
    assert "gpu has no node that can hold one instance" in reason
    assert "20 CPU on one node, the largest has 16" in reason


def test_it_offers_only_clusters_with_a_node_big_enough(shaped_fleet):
    assert placement_candidates(target_clusters=[], demand=demand(20, 4)) == ["cpu"]


def test_it_refuses_more_gpus_per_instance_than_one_node_has(shaped_fleet):
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=[], demand=demand(2, 8, gpu=8))
    (reason,) = err.value.reasons
    assert "8 GPU on one node, the largest has 4" in reason
    assert "cpu has no GPUs" in reason


def test_it_counts_how_many_instances_the_nodes_can_hold(shaped_fleet):
    # 5 x 12 CPU = 60 fits the 64 free cores, but each 16-core node holds only one.
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=["gpu"], demand=demand(12, 8, instances=5))
    (reason,) = err.value.reasons
    assert "gpu's nodes can hold at most 4 of the 5 instances (12 CPU, 8 GiB memory each)" in (
        reason
    )
    assert placement_candidates(target_clusters=["gpu"], demand=demand(12, 8, instances=4)) == [
        "gpu"
    ]


def test_it_wants_one_node_to_have_every_resource_an_instance_needs():
    MemberCluster.objects.create(
        name="mixed",
        ready=True,
        cpu_allocatable=80,
        memory_allocatable_gib=320,
        gpu_allocatable=4,
        node_shapes=[
            {"cpu": 64, "memoryGiB": 256, "gpu": 0, "count": 1},
            {"cpu": 16, "memoryGiB": 64, "gpu": 4, "count": 1},
        ],
    )
    with pytest.raises(PlacementError) as err:
        placement_candidates(target_clusters=["mixed"], demand=demand(32, 8, gpu=2))
    assert (
        "mixed has no single node with 32 CPU, 8 GiB memory, 2 GPU together"
        in (err.value.reasons[0])
    )


def test_it_checks_only_the_totals_while_the_nodes_are_unknown(fleet):
    assert MemberCluster.objects.get(name="gpu").node_shapes is None
    assert placement_candidates(target_clusters=["gpu"], demand=demand(20, 4)) == ["gpu"]


def test_the_mpi_launcher_keeps_the_per_instance_view(shaped_fleet):
    launcher = Demand(0.5, 0.5, 0)
    with pytest.raises(PlacementError):
        placement_candidates(target_clusters=["gpu"], demand=demand(20, 4) + launcher)


class FakeKarmada:
    def __init__(self, clusters, nodes):
        self.clusters, self.nodes = clusters, nodes

    def list_clusters(self):
        return self.clusters

    def member_get(self, cluster, path, *, query=None):
        assert path == "/api/v1/nodes"
        nodes = self.nodes.get(cluster)
        if nodes is None:
            raise ClusterError("proxy: cluster unreachable", permanent=False)
        return {"items": nodes}


def test_the_sync_records_node_shapes_and_keeps_them_when_the_member_cannot_be_asked(
    monkeypatch,
):
    fake = FakeKarmada(
        [karmada_cluster("m1", gpu="8"), karmada_cluster("m2", ready=False)],
        {"m1": [kube_node("a", gpu="4"), kube_node("b", gpu="4")]},
    )
    monkeypatch.setattr("clusters.services.get_client", lambda: fake)
    cluster_inventory_sync()
    m1 = MemberCluster.objects.get(name="m1")
    assert m1.node_shapes == [{"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 2}]
    # Not ready: not asked (its proxy would only time out), shapes still unknown.
    assert MemberCluster.objects.get(name="m2").node_shapes is None

    fake.nodes = {}  # m1's proxy fails this time
    cluster_inventory_sync()
    m1.refresh_from_db()
    assert m1.node_shapes == [{"cpu": 16.0, "memoryGiB": 64.0, "gpu": 4.0, "count": 2}]


# --- placement strategy ------------------------------------------------------------------


def test_spread_sends_jobs_in_proportion_to_free_capacity(fleet):
    import random

    from clusters.services import rank_candidates

    rng = random.Random(7)
    firsts = [
        rank_candidates(["gpu", "cpu"], demand=Demand(0.1, 0.25, 0), rng=rng)[0] for _ in range(600)
    ]
    # 64 free CPU against 128: about one in three on "gpu", two in three on "cpu".
    share = firsts.count("cpu") / len(firsts)
    assert 0.55 < share < 0.78, share
    assert set(firsts) == {"gpu", "cpu"}


def test_spread_weighs_gpu_jobs_by_free_gpus(fleet):
    from clusters.services import rank_candidates

    MemberCluster.objects.create(
        name="gpu2", ready=True, cpu_allocatable=8, memory_allocatable_gib=64, gpu_allocatable=0
    )
    # gpu2 has no free GPU: a GPU job ranked among both always goes to "gpu" first.
    for _ in range(50):
        assert rank_candidates(["gpu2", "gpu"], demand=Demand(1, 1, 1))[0] == "gpu"


def test_binpack_fills_the_fullest_cluster_that_fits_first(fleet):
    from clusters.services import rank_candidates

    ranked = rank_candidates(["cpu", "gpu"], demand=Demand(1, 1, 0), strategy="binpack")
    assert ranked == ["gpu", "cpu"]


def test_a_single_candidate_is_kept_as_it_is(fleet):
    from clusters.services import rank_candidates

    assert rank_candidates(["cpu"], demand=Demand(1, 1, 0)) == ["cpu"]
    assert rank_candidates([], demand=Demand(1, 1, 0)) == []
