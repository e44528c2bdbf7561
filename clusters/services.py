"""Member-cluster inventory (mirrored from Karmada) and placement: which clusters can hold a job."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from clusters.client import ClusterError, get_client, quantity
from clusters.models import MemberCluster
from jobs.exceptions import SpecError

log = logging.getLogger(__name__)

GPU_RESOURCE = "nvidia.com/gpu"
GIB = 1024**3


def _ready_condition(cluster: dict) -> tuple[bool, str]:
    for cond in cluster.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", cond.get("message") or cond.get("reason") or ""
    return False, "Karmada has not reported this cluster's readiness yet"


def _inventory_fields(cluster: dict) -> dict:
    spec = cluster.get("spec", {}) or {}
    status = cluster.get("status", {}) or {}
    summary = status.get("resourceSummary", {}) or {}
    allocatable = summary.get("allocatable", {}) or {}
    # What is already taken includes what the scheduler is placing right now.
    allocated = dict(summary.get("allocated", {}) or {})
    for name, value in (summary.get("allocating", {}) or {}).items():
        allocated[name] = str(quantity(allocated.get(name)) + quantity(value))
    ready, message = _ready_condition(cluster)
    return {
        "ready": ready,
        "ready_message": message,
        "kubernetes_version": status.get("kubernetesVersion", "") or "",
        "sync_mode": spec.get("syncMode", "") or "",
        "api_endpoint": spec.get("apiEndpoint", "") or "",
        "region": spec.get("region", "") or "",
        "zone": spec.get("zone", "") or "",
        "cpu_allocatable": float(quantity(allocatable.get("cpu"))),
        "cpu_allocated": float(quantity(allocated.get("cpu"))),
        "memory_allocatable_gib": float(quantity(allocatable.get("memory"))) / GIB,
        "memory_allocated_gib": float(quantity(allocated.get("memory"))) / GIB,
        "gpu_allocatable": float(quantity(allocatable.get(GPU_RESOURCE))),
        "gpu_allocated": float(quantity(allocated.get(GPU_RESOURCE))),
        "node_count": int((status.get("nodeSummary", {}) or {}).get("totalNum", 0) or 0),
        "present": True,
    }


def cluster_inventory_sync() -> int:
    """Mirror Karmada's Cluster objects into MemberCluster rows; returns how many exist."""
    clusters = get_client().list_clusters()
    now = timezone.now()
    names = []
    with transaction.atomic():
        for cluster in clusters:
            name = cluster["metadata"]["name"]
            names.append(name)
            MemberCluster.objects.update_or_create(
                name=name, defaults={**_inventory_fields(cluster), "last_synced_at": now}
            )
        MemberCluster.objects.exclude(name__in=names).update(
            present=False, ready=False, ready_message="No longer registered in Karmada"
        )
    return len(names)


@dataclass(frozen=True)
class Demand:
    """What a whole job needs from the one cluster it runs in."""

    cpu: float
    memory_gib: float
    gpu: float

    @classmethod
    def of(cls, *, cpu_cores: float, memory_gib: float, gpu_count: int, instances: int) -> Demand:
        return cls(cpu_cores * instances, memory_gib * instances, float(gpu_count * instances))

    def __add__(self, other: Demand) -> Demand:
        return Demand(
            self.cpu + other.cpu, self.memory_gib + other.memory_gib, self.gpu + other.gpu
        )


def shortfalls(cluster: MemberCluster, demand: Demand) -> list[str]:
    """Why ``cluster`` cannot hold the job now; empty when it can."""
    if demand.gpu and not cluster.has_gpu:
        return [f"{cluster.name} has no GPUs"]
    short = []
    if demand.cpu > cluster.cpu_free + 1e-9:
        short.append(f"{cluster.name} needs {demand.cpu:g} CPU, {cluster.cpu_free:g} free")
    if demand.memory_gib > cluster.memory_free_gib + 1e-9:
        short.append(
            f"{cluster.name} needs {demand.memory_gib:g} GiB memory, "
            f"{cluster.memory_free_gib:g} GiB free"
        )
    if demand.gpu > cluster.gpu_free + 1e-9:
        short.append(f"{cluster.name} needs {demand.gpu:g} GPU, {cluster.gpu_free:g} free")
    return short


def _known_clusters() -> dict[str, MemberCluster]:
    known = {c.name: c for c in MemberCluster.objects.filter(present=True)}
    if known:
        return known
    # A fresh platform has not run its first inventory sync yet: do it now rather than
    # refuse the job for want of clusters the platform simply has not looked at.
    try:
        cluster_inventory_sync()
    except ClusterError as exc:
        log.warning("inventory sync during placement failed: %s", exc)
    return {c.name: c for c in MemberCluster.objects.filter(present=True)}


def placement_candidates(*, target_clusters: list[str], demand: Demand) -> list[str]:
    """The clusters the job may be sent to, or SpecError saying why there are none."""
    known = _known_clusters()
    if target_clusters:
        errors = []
        for name in target_clusters:
            cluster = known.get(name)
            if cluster is None:
                listed = ", ".join(sorted(known)) or "none"
                errors.append(f"Unknown cluster '{name}' (known clusters: {listed}).")
            elif not cluster.ready:
                errors.append(f"Cluster '{name}' is not ready: {cluster.ready_message}".strip())
        if errors:
            raise SpecError({"targetClusters": errors})
        pool = [known[name] for name in target_clusters]
    else:
        pool = [c for c in known.values() if c.ready]
        if not pool:
            raise SpecError(
                {"targetClusters": ["No member cluster is ready to take jobs right now."]},
                message="No member cluster can take the job.",
            )
    reasons: list[str] = []
    fitting = []
    for cluster in pool:
        short = shortfalls(cluster, demand)
        if short:
            reasons.extend(short)
        else:
            fitting.append(cluster.name)
    if not fitting:
        raise SpecError(
            {"resources": [f"No candidate cluster can hold this job: {'; '.join(reasons)}."]},
            message="The job does not fit any candidate cluster.",
        )
    return fitting
