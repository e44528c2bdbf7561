"""factory_boy factories for member clusters; the jobs tests use them too."""

from __future__ import annotations

import factory
from django.utils import timezone

from clusters.models import MemberCluster


class MemberClusterFactory(factory.django.DjangoModelFactory):
    """A ready cluster with room for most jobs: 64 cores, 256 GiB, 16 GPUs, nothing used."""

    class Meta:
        model = MemberCluster
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"member-cluster-{n + 1}")
    ready = True
    kubernetes_version = "v1.31.0"
    sync_mode = "Push"
    cpu_allocatable = 64.0
    cpu_allocated = 0.0
    memory_allocatable_gib = 256.0
    memory_allocated_gib = 0.0
    gpu_allocatable = 16.0
    gpu_allocated = 0.0
    node_count = 1
    present = True
    last_synced_at = factory.LazyFunction(timezone.now)

    class Params:
        not_ready = factory.Trait(ready=False, ready_message="cluster is not reachable")
        full = factory.Trait(cpu_allocated=64.0, memory_allocated_gib=256.0, gpu_allocated=16.0)
        no_gpu = factory.Trait(gpu_allocatable=0.0)
