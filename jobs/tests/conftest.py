"""Fixtures shared by the jobs tests."""

from __future__ import annotations

import pytest

from clusters.models import MemberCluster


@pytest.fixture
def fleet(db):
    """Two ready member clusters in the inventory: GPUs on the first, twice the CPU on the
    second."""
    MemberCluster.objects.create(
        name="member-cluster-1",
        ready=True,
        cpu_allocatable=64,
        memory_allocatable_gib=256,
        gpu_allocatable=16,
    )
    MemberCluster.objects.create(
        name="member-cluster-2", ready=True, cpu_allocatable=128, memory_allocatable_gib=512
    )
