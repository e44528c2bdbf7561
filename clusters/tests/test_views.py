"""The member-cluster page."""

from __future__ import annotations

from django.urls import reverse

from clusters.tests.factories import MemberClusterFactory


def test_it_requires_login(client, db):
    response = client.get(reverse("clusters:list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_it_lists_clusters_with_readiness_version_and_resources(client, alice):
    MemberClusterFactory(
        name="member-cluster-1",
        kubernetes_version="v1.31.2",
        cpu_allocatable=32,
        cpu_allocated=8,
        memory_allocatable_gib=128,
        memory_allocated_gib=64,
        gpu_allocatable=4,
        gpu_allocated=4,
        node_count=3,
        region="eu-west",
    )
    MemberClusterFactory(name="member-cluster-2", not_ready=True)
    MemberClusterFactory(name="gone-cluster", present=False)
    client.force_login(alice)
    response = client.get(reverse("clusters:list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "member-cluster-1" in body and "member-cluster-2" in body
    assert "gone-cluster" not in body
    assert "v1.31.2" in body and "eu-west" in body
    assert "8 / 32" in body and "64 / 128" in body and "4 / 4" in body
    assert 'aria-label="25% allocated"' in body
    assert "meter-fill is-full" in body  # the GPUs are all taken
    assert "Not ready" in body and "cluster is not reachable" in body
    # Ready clusters are listed first.
    assert body.index("member-cluster-1") < body.index("member-cluster-2")


def test_it_shows_an_empty_state(client, charlie):
    client.force_login(charlie)
    body = client.get(reverse("clusters:list")).content.decode()
    assert "No member clusters yet" in body


def test_it_shows_the_node_shapes_one_instance_must_fit(client, alice):
    MemberClusterFactory(
        name="member-cluster-1",
        node_shapes=[
            {"cpu": 32, "memoryGiB": 128, "gpu": 0, "count": 1},
            {"cpu": 16, "memoryGiB": 64, "gpu": 4, "count": 4},
        ],
    )
    client.force_login(alice)
    body = client.get(reverse("clusters:list")).content.decode()
    assert "1 node of 32 CPU, 128 GiB; 4 nodes of 16 CPU, 64 GiB, 4 GPU" in body


def test_the_last_sync_reads_naturally(client, alice, db):
    from datetime import timedelta

    from django.utils import timezone

    from clusters.models import MemberCluster

    MemberCluster.objects.create(name="fresh", ready=True, last_synced_at=timezone.now())
    MemberCluster.objects.create(
        name="stale", ready=True, last_synced_at=timezone.now() - timedelta(minutes=5)
    )
    client.force_login(alice)
    page = client.get("/clusters/").content.decode()
    assert "now" in page and "5\xa0minutes ago" in page
    assert "0\xa0minutes ago" not in page
