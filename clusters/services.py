"""Member-cluster inventory (mirrored from Karmada) and placement: which clusters can hold a job."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from clusters.client import ClusterError, KarmadaClient, get_client, quantity
from clusters.models import ControlPlaneHealth, MemberCluster

log = logging.getLogger(__name__)


class PlacementError(Exception):
    """No member cluster can take the workload.

    ``field`` says which part of the caller's request it is about: ``"target_clusters"``
    (the clusters it named, or that none is ready) or ``"resources"`` (the demand fits no
    candidate). ``reasons`` are sentences for people; ``message`` sums them up, when there
    is more to say than that the request is invalid.
    """

    def __init__(
        self,
        reasons: list[str],
        *,
        field: Literal["target_clusters", "resources"],
        message: str | None = None,
    ) -> None:
        super().__init__(message or "; ".join(reasons))
        self.reasons = reasons
        self.field = field
        self.message = message


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


def _node_ready(node: dict) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def node_shapes(nodes: list[dict]) -> list[dict[str, Any]]:
    """The allocatable of the nodes a pod can be scheduled on, grouped by shape, largest
    first. Taints are not judged: GPU nodes are commonly tainted for pods that request
    GPUs, which the cluster's admission tolerates for them."""
    counts: dict[tuple[float, float, float], int] = {}
    for node in nodes:
        if (node.get("spec") or {}).get("unschedulable") or not _node_ready(node):
            continue
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        shape = (
            float(quantity(allocatable.get("cpu"))),
            float(quantity(allocatable.get("memory"))) / GIB,
            float(quantity(allocatable.get(GPU_RESOURCE))),
        )
        counts[shape] = counts.get(shape, 0) + 1
    return [
        {"cpu": cpu, "memoryGiB": memory, "gpu": gpu, "count": count}
        for (cpu, memory, gpu), count in sorted(counts.items(), reverse=True)
    ]


def _member_node_shapes(client: KarmadaClient, name: str) -> list[dict[str, Any]] | None:
    """The member's node shapes through Karmada's cluster proxy; None when it cannot be
    asked (the last known shapes then stay)."""
    try:
        # resourceVersion=0: served from the apiserver's cache, not a quorum read of etcd.
        listing = client.member_get(name, "/api/v1/nodes", query={"resourceVersion": "0"})
    except ClusterError as exc:
        log.warning("cannot list the nodes of %s: %s", name, exc)
        return None
    return node_shapes(listing.get("items") or [])


def cluster_inventory_sync(*, budget: float | None = None) -> int:
    """Mirror Karmada's Cluster objects into MemberCluster rows; returns how many exist.

    ``budget`` bounds the seconds spent asking members for their nodes (each ask can take
    a whole request timeout when a member hangs); members left over keep their last
    known node shapes until the next pass.
    """
    client = get_client()
    clusters = client.list_clusters()
    deadline = time.monotonic() + budget if budget is not None else None
    # Node listings go through each member, outside the transaction. A cluster that is
    # not ready is not asked: its proxy would only time out.
    rows = []
    for cluster in clusters:
        fields = _inventory_fields(cluster)
        if fields["ready"] and (deadline is None or time.monotonic() < deadline):
            shapes = _member_node_shapes(client, cluster["metadata"]["name"])
            if shapes is not None:
                fields["node_shapes"] = shapes
        rows.append((cluster["metadata"]["name"], fields))
    now = timezone.now()
    names = []
    with transaction.atomic():
        for name, fields in rows:
            names.append(name)
            MemberCluster.objects.update_or_create(
                name=name, defaults={**fields, "last_synced_at": now}
            )
        MemberCluster.objects.exclude(name__in=names).update(
            present=False, ready=False, ready_message="No longer registered in Karmada"
        )
    return len(names)


def control_plane_report(*, reachable: bool, message: str = "") -> bool:
    """Record whether Karmada answered the last sync, and what it could not serve even when
    it answered (``message``: a kind it did not list); True when that changed from what was
    known (the caller logs the change once, rather than a line every second of an outage)."""
    now = timezone.now()
    # The common case, nothing changed, costs one UPDATE.
    if ControlPlaneHealth.objects.filter(pk=1, reachable=reachable, message=message).update(
        checked_at=now
    ):
        return False
    row, created = ControlPlaneHealth.objects.get_or_create(
        pk=1, defaults={"reachable": reachable, "message": message, "since": now}
    )
    if created:
        return not reachable or bool(message)
    fields: dict[str, Any] = {"checked_at": now, "reachable": reachable, "message": message}
    if row.reachable != reachable:
        fields["since"] = now
    ControlPlaneHealth.objects.filter(pk=1).update(**fields)
    return True


@dataclass(frozen=True)
class Instance:
    """One instance's pod: it must fit on a single node."""

    cpu: float
    memory_gib: float
    gpu: float


@dataclass(frozen=True)
class Demand:
    """What a whole job needs from the one cluster it runs in."""

    cpu: float
    memory_gib: float
    gpu: float
    # The per-pod view, when known: ``instances`` pods of ``instance`` each.
    instance: Instance | None = None
    instances: int = 0

    @classmethod
    def of(cls, *, cpu_cores: float, memory_gib: float, gpu_count: int, instances: int) -> Demand:
        return cls(
            cpu_cores * instances,
            memory_gib * instances,
            float(gpu_count * instances),
            instance=Instance(cpu_cores, memory_gib, float(gpu_count)),
            instances=instances,
        )

    def __add__(self, other: Demand) -> Demand:
        # Adding a helper pod (the MPI launcher) keeps the instances' per-pod view: the
        # helper is small and fits wherever an instance does.
        return Demand(
            self.cpu + other.cpu,
            self.memory_gib + other.memory_gib,
            self.gpu + other.gpu,
            instance=self.instance or other.instance,
            instances=self.instances or other.instances,
        )


def _amounts(cpu: float, memory_gib: float, gpu: float) -> str:
    parts = [f"{cpu:g} CPU", f"{memory_gib:g} GiB memory"]
    if gpu:
        parts.append(f"{gpu:g} GPU")
    return ", ".join(parts)


def _node_shortfall(cluster: MemberCluster, demand: Demand) -> str | None:
    """Why the cluster's nodes can never hold the job's pods, even empty; None when they
    can (or when the nodes are not known)."""
    instance, shapes = demand.instance, cluster.node_shapes
    if instance is None or shapes is None or demand.instances < 1:
        return None
    need = {"cpu": instance.cpu, "memoryGiB": instance.memory_gib, "gpu": instance.gpu}

    def per_node(shape: dict) -> int:
        # The tolerance keeps 64 / 2.56 from rounding down to 24.999...
        fits = [
            math.floor(float(shape.get(r) or 0) / amount + 1e-9)
            for r, amount in need.items()
            if amount > 0
        ]
        return min(fits) if fits else demand.instances

    capacity = sum(per_node(shape) * int(shape.get("count") or 0) for shape in shapes)
    if capacity >= demand.instances:
        return None
    one = _amounts(instance.cpu, instance.memory_gib, instance.gpu)
    if capacity == 0:
        largest = {r: max((float(s.get(r) or 0) for s in shapes), default=0.0) for r in need}
        labels = {"cpu": "CPU", "memoryGiB": "GiB memory", "gpu": "GPU"}
        over = [
            f"{need[r]:g} {labels[r]} on one node, the largest has {largest[r]:g}"
            for r in need
            if need[r] > largest[r] + 1e-9
        ]
        if over:
            needs = "; ".join(over)
            return f"{cluster.name} has no node that can hold one instance (it needs {needs})"
        return f"{cluster.name} has no single node with {one} together"
    return (
        f"{cluster.name}'s nodes can hold at most {capacity} of the {demand.instances} "
        f"instances ({one} each)"
    )


def shortfalls(cluster: MemberCluster, demand: Demand, *, empty: bool = False) -> list[str]:
    """Why ``cluster`` cannot hold the job now (``empty``: even with nothing else on it);
    empty when it can."""
    if demand.gpu and not cluster.has_gpu:
        return [f"{cluster.name} has no GPUs"]
    cpu_free = cluster.cpu_allocatable if empty else cluster.cpu_free
    memory_free = cluster.memory_allocatable_gib if empty else cluster.memory_free_gib
    gpu_free = cluster.gpu_allocatable if empty else cluster.gpu_free
    word = "in all" if empty else "free"
    short = []
    if demand.cpu > cpu_free + 1e-9:
        short.append(f"{cluster.name} needs {demand.cpu:g} CPU, {cpu_free:g} {word}")
    if demand.memory_gib > memory_free + 1e-9:
        short.append(
            f"{cluster.name} needs {demand.memory_gib:g} GiB memory, {memory_free:g} GiB {word}"
        )
    if demand.gpu > gpu_free + 1e-9:
        short.append(f"{cluster.name} needs {demand.gpu:g} GPU, {gpu_free:g} {word}")
    # A pod runs on one node: free capacity spread over several nodes does not help an
    # instance larger than any of them, which would stay Pending forever.
    node = _node_shortfall(cluster, demand)
    if node:
        short.append(node)
    return short


def known_clusters() -> dict[str, MemberCluster]:
    """Every cluster in the inventory (Karmada still lists it), by name."""
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


def placement_candidates(
    *,
    target_clusters: list[str],
    demand: Demand,
    empty: bool = False,
    known: Mapping[str, MemberCluster] | None = None,
) -> list[str]:
    """The clusters the workload may be sent to, or PlacementError saying why there are none.

    ``empty`` asks which clusters could hold it once nothing else runs there: a job that
    fits one of those but none now waits in the platform's queue instead of being refused.
    ``known``: the clusters the caller has read already (``known_clusters()``)."""
    if known is None:
        known = known_clusters()
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
            raise PlacementError(errors, field="target_clusters")
        pool = [known[name] for name in target_clusters]
    else:
        pool = [c for c in known.values() if c.ready]
        if not pool:
            raise PlacementError(
                ["No member cluster is ready to take jobs right now."],
                field="target_clusters",
                message="No member cluster can take the job.",
            )
    reasons: list[str] = []
    fitting = []
    for cluster in pool:
        short = shortfalls(cluster, demand, empty=empty)
        if short:
            reasons.extend(short)
        else:
            fitting.append(cluster.name)
    if not fitting:
        even = " even when empty" if empty else ""
        raise PlacementError(
            [f"No candidate cluster can hold this job{even}: {'; '.join(reasons)}."],
            field="resources",
            message="The job does not fit any candidate cluster.",
        )
    return fitting


PLACEMENT_STRATEGIES = ("spread", "binpack")


def _free_share(cluster: MemberCluster, demand: Demand) -> float:
    """How much of what the job asks for most is free in the cluster: GPUs for GPU jobs,
    CPU otherwise."""
    if demand.gpu:
        return cluster.gpu_free
    return cluster.cpu_free


def rank_candidates(
    names: list[str],
    *,
    demand: Demand,
    strategy: str = "spread",
    rng: random.Random | None = None,
    clusters: Mapping[str, MemberCluster] | None = None,
) -> list[str]:
    """Order the clusters that fit a job by the operator's placement strategy; the job is
    sent to the first, with the others as Karmada's fallback.

    ``spread`` draws the first at random, weighted by free capacity, so a burst of jobs lands
    on the clusters in proportion to their room even though the inventory behind the
    weights is seconds old (picking "the freest" would send the whole burst to one cluster
    until the next inventory sync). ``binpack`` fills the fullest cluster that fits first,
    keeping the others free for large jobs.

    ``clusters``: the inventory rows (or the admission pass's view of them, with what it has
    just placed added), when the caller has them already.
    """
    if len(names) < 2:
        return list(names)
    if clusters is None:
        clusters = {c.name: c for c in MemberCluster.objects.filter(name__in=names)}
    free = {
        name: _free_share(clusters[name], demand) if name in clusters else 0.0 for name in names
    }
    if strategy == "binpack":
        return sorted(names, key=lambda name: (free[name], name))
    by_room = sorted(names, key=lambda name: (-free[name], name))
    weights = [max(free[name], 0.0) for name in by_room]
    if sum(weights) <= 0:
        return by_room
    first = (rng or random).choices(by_room, weights=weights, k=1)[0]
    return [first, *[name for name in by_room if name != first]]
