"""The platform's queue: quotas per namespace, priorities, and admission.

A job that its namespace's quota or the member clusters' free room cannot take right now
waits as ``Queued``, in the database only. An admission pass decides which queued jobs go
on to ``Pending`` (and from there to Karmada, exactly as before): higher priority first,
then, between namespaces, the one with the smallest dominant-resource share (its largest
share of the federation's CPU, memory or GPUs in use), then the oldest. Within a namespace
the order is strict (priority, then age), so "2 jobs ahead of this one" stays true.

Race safety: every admission decision, including the one a create makes for its own job,
runs in one transaction holding a PostgreSQL advisory lock (``pg_advisory_xact_lock``), and
reads usage from the database inside it. Two passes, or a pass and a create, never decide
on the same usage, so a quota cannot be exceeded by two workers admitting at once. The move
Queued -> Pending is also a compare-and-swap, so a job deleted meanwhile is left alone.

Cost: one pass is a handful of queries whatever the queue length (quotas, usage grouped by
namespace and cluster, the queued jobs, the ready clusters), plus the writes for the jobs it
admits and one bulk UPDATE of the positions and reasons that changed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Q, Sum, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from clusters.models import MemberCluster
from clusters.services import Demand, rank_candidates, shortfalls
from jobs.frameworks import get_framework
from jobs.manifests import LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB
from jobs.models import QUOTA_STATUSES, JobStatus, NamespaceQuota, TrainingJob

log = logging.getLogger(__name__)

# Any constant both sides agree on: the key of the advisory lock every admission holds.
ADMISSION_LOCK_KEY = 0x6D6C_5155  # "mlQU"

RESOURCES = ("gpus", "cpu_cores", "memory_gib", "running_jobs")
# How each limit reads in a sentence, and its API name.
_WORDS = {
    "gpus": "GPUs",
    "cpu_cores": "CPU cores",
    "memory_gib": "GiB memory",
    "running_jobs": "running jobs",
}
API_NAMES = {
    "gpus": "gpus",
    "cpu_cores": "cpuCores",
    "memory_gib": "memoryGiB",
    "running_jobs": "runningJobs",
}

# Reasons a Queued job carries (status_reason).
QUOTA_REASON = "QuotaExceeded"
CAPACITY_REASON = "WaitingForCapacity"
ADMITTED_REASON = "Admitted"
QUEUED_REASON = "Queued"

# A pass looks at this many queued jobs at most (the oldest and highest first).
MAX_QUEUE_SCAN = 5000


# --- quotas -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """A namespace's limits; None = unlimited."""

    gpus: float | None = None
    cpu_cores: float | None = None
    memory_gib: float | None = None
    running_jobs: float | None = None
    priorities: tuple[str, ...] | None = None
    # Per member cluster: the same four limits inside that cluster.
    clusters: dict[str, Limits] = field(default_factory=dict)
    explicit: bool = False  # False: the defaults from settings

    def limit(self, resource: str) -> float | None:
        return getattr(self, resource)

    @property
    def unlimited(self) -> bool:
        return all(self.limit(r) is None for r in RESOURCES) and not self.clusters


def default_limits() -> Limits:
    return Limits(
        gpus=settings.QUOTA_DEFAULT_GPUS,
        cpu_cores=settings.QUOTA_DEFAULT_CPU_CORES,
        memory_gib=settings.QUOTA_DEFAULT_MEMORY_GIB,
        running_jobs=settings.QUOTA_DEFAULT_RUNNING_JOBS,
    )


def _cluster_limits(raw: Any) -> dict[str, Limits]:
    out: dict[str, Limits] = {}
    for name, values in (raw or {}).items():
        values = values or {}
        out[name] = Limits(
            gpus=values.get("gpus"),
            cpu_cores=values.get("cpuCores"),
            memory_gib=values.get("memoryGiB"),
            running_jobs=values.get("runningJobs"),
        )
    return out


def limits_of(quota: NamespaceQuota | None) -> Limits:
    if quota is None:
        return default_limits()
    return Limits(
        gpus=quota.gpus,
        cpu_cores=quota.cpu_cores,
        memory_gib=quota.memory_gib,
        running_jobs=quota.running_jobs,
        priorities=tuple(quota.priorities) if quota.priorities is not None else None,
        clusters=_cluster_limits(quota.clusters),
        explicit=True,
    )


def namespace_limits(namespace: str) -> Limits:
    return limits_of(NamespaceQuota.objects.filter(namespace=namespace).first())


def all_quotas() -> dict[str, NamespaceQuota]:
    """Every namespace's quota row (a handful: one per namespace that has one)."""
    return {q.namespace: q for q in NamespaceQuota.objects.all()}


# --- usage ------------------------------------------------------------------------------


@dataclass
class Usage:
    gpus: float = 0.0
    cpu_cores: float = 0.0
    memory_gib: float = 0.0
    running_jobs: float = 0.0

    def get(self, resource: str) -> float:
        return getattr(self, resource)

    def add(self, need: Need) -> None:
        for resource in RESOURCES:
            setattr(self, resource, self.get(resource) + need.get(resource))


@dataclass(frozen=True)
class Need:
    """What one job counts against a quota: its instances' resources, and one job."""

    gpus: float
    cpu_cores: float
    memory_gib: float
    running_jobs: float = 1.0

    def get(self, resource: str) -> float:
        return getattr(self, resource)

    @classmethod
    def of(cls, job: TrainingJob) -> Need:
        n = job.instance_count
        return cls(float(job.gpu_count * n), job.cpu_cores * n, job.memory_gib * n)


def job_demand(job: TrainingJob) -> Demand:
    """What the job needs from the one cluster it runs in (the MPI launcher included)."""
    demand = Demand.of(
        cpu_cores=job.cpu_cores,
        memory_gib=job.memory_gib,
        gpu_count=job.gpu_count,
        instances=job.instance_count,
    )
    if get_framework(job.framework).is_mpi:
        demand = demand + Demand(LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB, 0)
    return demand


def _holding_quota() -> Q:
    # A Deleting job holds its share until it is gone, but only if it reached Karmada: a
    # queued or never-submitted job being deleted runs nowhere.
    return Q(status__in=QUOTA_STATUSES) | Q(status=JobStatus.DELETING, submitted_at__isnull=False)


def current_usage() -> tuple[dict[str, Usage], dict[tuple[str, str], Usage]]:
    """Usage per namespace, and per (namespace, cluster), from the database in one query.

    A job counts on the cluster it landed on, or, before Karmada placed it, on the first
    of its candidates (the one the platform chose)."""
    place = Coalesce(
        NullIf(F("cluster"), Value("")),
        KeyTextTransform("0", "candidate_clusters"),
        output_field=TextField(),
    )
    rows = (
        TrainingJob.objects.filter(_holding_quota())
        .annotate(place=place)
        .order_by()
        .values("namespace", "place")
        .annotate(
            gpus=Sum(F("gpu_count") * F("instance_count")),
            cpu=Sum(F("cpu_cores") * F("instance_count"), output_field=FloatField()),
            memory=Sum(F("memory_gib") * F("instance_count"), output_field=FloatField()),
            jobs=Count("id"),
        )
    )
    per_ns: dict[str, Usage] = {}
    per_cluster: dict[tuple[str, str], Usage] = {}
    for row in rows:
        need = Need(
            float(row["gpus"] or 0), float(row["cpu"] or 0), float(row["memory"] or 0), row["jobs"]
        )
        per_ns.setdefault(row["namespace"], Usage()).add(need)
        per_cluster.setdefault((row["namespace"], row["place"] or ""), Usage()).add(need)
    return per_ns, per_cluster


# --- words ------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:g}"


def quota_problem(namespace: str, usage: Usage, limits: Limits, need: Need) -> str | None:
    """Why the job does not fit the namespace's quota now, in plain words; None if it does."""
    for resource in RESOURCES:
        limit = limits.limit(resource)
        if limit is not None and usage.get(resource) + need.get(resource) > limit + 1e-9:
            if resource == "running_jobs":
                return f"{namespace} runs {_fmt(usage.get(resource))} of {_fmt(limit)} jobs"
            return (
                f"{namespace} uses {_fmt(usage.get(resource))} of {_fmt(limit)} "
                f"{_WORDS[resource]} and this job needs {_fmt(need.get(resource))}"
            )
    return None


def never_fits(namespace: str, limits: Limits, need: Need) -> list[tuple[str, str]]:
    """(request path, reason) for every limit the job exceeds on its own: it could never
    be admitted, so it is refused rather than queued for ever."""
    paths = {
        "gpus": "resources.instanceResources.gpuCount",
        "cpu_cores": "resources.instanceResources.cpuCores",
        "memory_gib": "resources.instanceResources.memoryGiB",
    }
    out = []
    for resource, path in paths.items():
        limit = limits.limit(resource)
        if limit is not None and need.get(resource) > limit + 1e-9:
            out.append(
                (
                    path,
                    f"The job needs {_fmt(need.get(resource))} {_WORDS[resource]} in all; "
                    f"the quota of {namespace} is {_fmt(limit)}.",
                )
            )
    if limits.running_jobs is not None and limits.running_jobs < 1:
        out.append(("namespace", f"The quota of {namespace} allows no running jobs."))
    return out


def usage_words(namespace: str, usage: Usage, limits: Limits) -> str:
    """ "team-a now uses 6 of 8 GPUs, 2 of 4 running jobs" (only the limited resources)."""
    parts = []
    for resource in RESOURCES:
        limit = limits.limit(resource)
        if limit is not None:
            parts.append(f"{_fmt(usage.get(resource))} of {_fmt(limit)} {_WORDS[resource]}")
    if not parts:
        return f"{namespace} has no quota limits"
    return f"{namespace} now uses {', '.join(parts)}"


def _ahead(n: int) -> str:
    if n == 0:
        return "first in line"
    return f"{n} job{'' if n == 1 else 's'} ahead of this one"


# --- the pass ---------------------------------------------------------------------------


@dataclass
class _Waiting:
    job: TrainingJob
    rank: int
    need: Need
    demand: Demand

    @property
    def key(self) -> tuple[int, datetime, str]:
        return (self.rank, self.job.created_at or timezone.now(), str(self.job.id))


@dataclass
class Decision:
    job: TrainingJob
    admitted: bool
    candidates: list[str] = field(default_factory=list)
    reason: str = ""  # status_reason
    message: str = ""  # plain words
    position: int | None = None


def priority_rank(priority: str) -> int:
    priorities = list(settings.JOB_PRIORITIES)
    return priorities.index(priority) if priority in priorities else len(priorities)


@dataclass
class _State:
    limits: dict[str, Limits]
    usage: dict[str, Usage]
    cluster_usage: dict[tuple[str, str], Usage]
    clusters: dict[str, MemberCluster]  # ready ones, allocated as the platform knows it
    totals: Usage

    def limits_for(self, namespace: str) -> Limits:
        return self.limits.get(namespace) or default_limits()

    def share(self, namespace: str) -> float:
        """Dominant resource share: the largest fraction of the federation's CPU, memory
        or GPUs the namespace holds."""
        used = self.usage.get(namespace) or Usage()
        shares = [
            used.get(r) / self.totals.get(r)
            for r in ("cpu_cores", "memory_gib", "gpus")
            if self.totals.get(r) > 0
        ]
        return max(shares, default=0.0)


def load_state(
    known: Mapping[str, MemberCluster] | None = None,
    *,
    quotas: Mapping[str, NamespaceQuota] | None = None,
) -> _State:
    """Quotas, usage and the ready clusters, read once for a plan; ``known`` and
    ``quotas``: the inventory and quota rows when the caller has read them already
    (``known_clusters()``, ``all_quotas()``)."""
    if quotas is None:
        quotas = all_quotas()
    limits = {namespace: limits_of(q) for namespace, q in quotas.items()}
    usage, cluster_usage = current_usage()
    if known is None:
        ready = {c.name: c for c in MemberCluster.objects.filter(ready=True, present=True)}
    else:
        ready = {name: c for name, c in known.items() if c.ready and c.present}
    # The inventory lags Karmada by seconds, and Karmada lags the members: a job admitted a
    # moment ago is not in it yet. Take as allocated the larger of what the inventory says
    # and what the platform's own admitted jobs on that cluster add up to.
    platform: dict[str, Usage] = {}
    for (_, place), used in cluster_usage.items():
        platform.setdefault(place, Usage()).add(
            Need(used.gpus, used.cpu_cores, used.memory_gib, used.running_jobs)
        )
    clusters: dict[str, MemberCluster] = {}
    totals = Usage()
    for name, cluster in ready.items():
        view = copy.copy(cluster)
        mine = platform.get(name)
        if mine is not None:
            view.cpu_allocated = max(view.cpu_allocated, mine.cpu_cores)
            view.memory_allocated_gib = max(view.memory_allocated_gib, mine.memory_gib)
            view.gpu_allocated = max(view.gpu_allocated, mine.gpus)
        clusters[name] = view
        totals.add(Need(view.gpu_allocatable, view.cpu_allocatable, view.memory_allocatable_gib))
    return _State(limits, usage, cluster_usage, clusters, totals)


def _fitting_clusters(state: _State, w: _Waiting) -> tuple[list[str], list[str]]:
    """Ready clusters that can take the job now (within the namespace's per-cluster
    limits), and why the others cannot."""
    job = w.job
    names = list(job.target_clusters) if job.target_clusters else sorted(state.clusters)
    limits = state.limits_for(job.namespace)
    fitting, why = [], []
    for name in names:
        cluster = state.clusters.get(name)
        if cluster is None:
            why.append(f"{name} is not ready")
            continue
        short = shortfalls(cluster, w.demand)
        if short:
            why.extend(short)
            continue
        per = limits.clusters.get(name)
        if per is not None:
            used = state.cluster_usage.get((job.namespace, name)) or Usage()
            problem = quota_problem(f"{job.namespace} on {name}", used, per, w.need)
            if problem:
                why.append(problem)
                continue
        fitting.append(name)
    return fitting, why


def _take(state: _State, w: _Waiting, cluster_name: str) -> None:
    ns = w.job.namespace
    state.usage.setdefault(ns, Usage()).add(w.need)
    state.cluster_usage.setdefault((ns, cluster_name), Usage()).add(w.need)
    cluster = state.clusters[cluster_name]
    cluster.cpu_allocated += w.demand.cpu
    cluster.memory_allocated_gib += w.demand.memory_gib
    cluster.gpu_allocated += w.demand.gpu


def _waiting(job: TrainingJob) -> _Waiting:
    return _Waiting(job, priority_rank(job.priority), Need.of(job), job_demand(job))


def plan(jobs: Iterable[TrainingJob], state: _State | None = None) -> list[Decision]:
    """Decide, for every waiting job, whether it is admitted now; pure apart from reading
    the state (quotas, usage, clusters) once when none is given."""
    state = state or load_state()
    queues: dict[str, list[_Waiting]] = {}
    for job in jobs:
        queues.setdefault(job.namespace, []).append(_waiting(job))
    for queue in queues.values():
        queue.sort(key=lambda w: w.key)
    heads = {ns: 0 for ns in queues}
    blocked: dict[str, tuple[str, str]] = {}  # namespace -> (reason, words)
    decisions: list[Decision] = []
    while True:
        open_heads = [
            (ns, queues[ns][i])
            for ns, i in heads.items()
            if ns not in blocked and i < len(queues[ns])
        ]
        if not open_heads:
            break
        # Higher priority first; between namespaces the smaller dominant share; then age.
        ns, w = min(open_heads, key=lambda item: (item[1].rank, state.share(item[0]), item[1].key))
        limits = state.limits_for(ns)
        problem = quota_problem(ns, state.usage.get(ns) or Usage(), limits, w.need)
        if problem:
            blocked[ns] = (QUOTA_REASON, problem)
            continue
        fitting, why = _fitting_clusters(state, w)
        if not fitting:
            detail = "; ".join(why) or "no member cluster is ready"
            blocked[ns] = (CAPACITY_REASON, f"No ready cluster has room for it now ({detail})")
            continue
        candidates = rank_candidates(
            fitting, demand=w.demand, strategy=settings.PLACEMENT_STRATEGY, clusters=state.clusters
        )
        _take(state, w, candidates[0])
        words = usage_words(ns, state.usage[ns], limits)
        decisions.append(Decision(w.job, True, candidates, ADMITTED_REASON, f"Admitted: {words}."))
        heads[ns] += 1
    for ns, queue in queues.items():
        reason, words = blocked.get(ns, (QUEUED_REASON, "Waiting for the next admission pass"))
        for pos, w in enumerate(queue[heads[ns] :], start=1):
            decisions.append(
                Decision(
                    w.job,
                    False,
                    reason=reason if pos == 1 else QUEUED_REASON,
                    message=f"{words}; {_ahead(pos - 1)}.",
                    position=pos,
                )
            )
    return decisions


def lock_admission() -> None:
    """Take the admission lock until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_LOCK_KEY])


QUEUED_FIELDS = (
    "id",
    "namespace",
    "priority",
    "created_at",
    "framework",
    "cpu_cores",
    "memory_gib",
    "gpu_count",
    "instance_count",
    "target_clusters",
    "status",
    "status_reason",
    "status_message",
    "queue_position",
)


def queue_admit() -> dict[str, int]:
    """One admission pass over every Queued job; returns how many were admitted and how
    many still wait. Admitted jobs get their candidate clusters and manifests now (the room
    they fit is today's, not the one at creation) and are submitted after commit."""
    from jobs import services  # services imports this module

    with transaction.atomic():
        lock_admission()
        queued = list(
            TrainingJob.objects.filter(status=JobStatus.QUEUED)
            .only(*QUEUED_FIELDS)
            .order_by("created_at")[:MAX_QUEUE_SCAN]
        )
        if not queued:
            return {"admitted": 0, "waiting": 0}
        decisions = plan(queued)
        admitted = 0
        for decision in decisions:
            if decision.admitted and services.job_admit(
                job_id=decision.job.id, candidates=decision.candidates, message=decision.message
            ):
                admitted += 1
        write_waiting([d for d in decisions if not d.admitted])
    if admitted:
        log.info("queue: admitted %d jobs, %d still waiting", admitted, len(decisions) - admitted)
    return {"admitted": admitted, "waiting": len(decisions) - admitted}


def write_waiting(decisions: list[Decision]) -> None:
    """Store each waiting job's position and reason, in one UPDATE for those that changed."""
    changed = []
    now = timezone.now()
    for d in decisions:
        job = d.job
        if (job.queue_position, job.status_reason, job.status_message) == (
            d.position,
            d.reason,
            d.message,
        ):
            continue
        job.queue_position, job.status_reason, job.status_message = d.position, d.reason, d.message
        job.updated_at = now
        changed.append(job)
    if changed:
        # Only rows still Queued: one deleted meanwhile keeps what its delete wrote.
        ids = [job.id for job in changed]
        still = set(
            TrainingJob.objects.filter(id__in=ids, status=JobStatus.QUEUED).values_list(
                "id", flat=True
            )
        )
        TrainingJob.objects.bulk_update(
            [job for job in changed if job.id in still],
            ["queue_position", "status_reason", "status_message", "updated_at"],
        )


def enqueue_admission() -> None:
    """Ask a worker for an admission pass after the current transaction commits (a job
    ended, was deleted, or a quota changed)."""

    def send() -> None:
        from jobs.tasks import queue_admit_task

        try:
            queue_admit_task.delay()
        except Exception:  # broker down: beat's next pass admits
            log.exception("could not enqueue an admission pass; beat's next one will run it")

    transaction.on_commit(send)


# --- quotas: writes ---------------------------------------------------------------------


def quota_set(*, namespace: str, values: dict[str, Any]) -> NamespaceQuota:
    """Create or replace a namespace's quota (``values`` in model names), then re-evaluate
    the queue at once: a raised limit admits what now fits."""
    with transaction.atomic():
        quota, _ = NamespaceQuota.objects.update_or_create(namespace=namespace, defaults=values)
    queue_admit()
    return quota


def quota_delete(*, namespace: str) -> bool:
    """Remove a namespace's quota (the defaults apply again) and re-evaluate the queue."""
    with transaction.atomic():
        deleted, _ = NamespaceQuota.objects.filter(namespace=namespace).delete()
    queue_admit()
    return bool(deleted)


# --- quotas: the wire shape -------------------------------------------------------------

QUOTA_KEYS = ("gpus", "cpuCores", "memoryGiB", "runningJobs", "priorities", "clusters")
_MODEL_NAMES = {api: model for model, api in API_NAMES.items()}
_INTEGER_LIMITS = ("gpus", "runningJobs")
MAX_QUOTA_VALUE = 1_000_000
MAX_QUOTA_CLUSTERS = 100


def _limit_value(errors: dict[str, list[str]], path: str, key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer() and key in _INTEGER_LIMITS:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors[path] = ["Expected a number or null (unlimited)."]
        return None
    if key in _INTEGER_LIMITS and not isinstance(value, int):
        errors[path] = ["Expected a whole number or null (unlimited)."]
        return None
    if not (0 <= value <= MAX_QUOTA_VALUE) or value != value:
        errors[path] = [f"Must be between 0 and {MAX_QUOTA_VALUE}, or null (unlimited)."]
        return None
    return value


def _limits_object(
    errors: dict[str, list[str]], prefix: str, raw: dict[str, Any], keys: tuple[str, ...]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in raw:
        if key not in keys:
            errors[f"{prefix}{key}"] = [f"Unknown field. Allowed: {', '.join(keys)}."]
    for key in keys:
        if key in API_NAMES.values():
            out[key] = _limit_value(errors, f"{prefix}{key}", key, raw.get(key))
    return out


def parse_quota(data: Any) -> dict[str, Any]:
    """A quota body (``{"gpus", "cpuCores", "memoryGiB", "runningJobs", "priorities",
    "clusters"}``, null or absent = unlimited) as model field values; SpecError names every
    bad field."""
    from jobs.exceptions import SpecError

    if not isinstance(data, dict):
        raise SpecError({"body": ["Expected a JSON object."]}, message="The quota is invalid.")
    errors: dict[str, list[str]] = {}
    limits = _limits_object(errors, "", data, QUOTA_KEYS)
    values: dict[str, Any] = {_MODEL_NAMES[k]: v for k, v in limits.items()}
    priorities = data.get("priorities")
    values["priorities"] = None
    if priorities is not None:
        allowed = list(settings.JOB_PRIORITIES)
        if not isinstance(priorities, list) or not all(isinstance(p, str) for p in priorities):
            errors["priorities"] = ["Expected a list of priority names, or null (every one)."]
        elif len(set(priorities)) != len(priorities):
            errors["priorities"] = ["A priority is listed twice."]
        elif unknown := [p for p in priorities if p not in allowed]:
            shown = ", ".join(p[:63] for p in unknown[:5])
            errors["priorities"] = [f"Unknown priority {shown}. Allowed: {', '.join(allowed)}."]
        else:
            # Kept in the platform's order, highest first.
            values["priorities"] = [p for p in allowed if p in priorities]
    clusters = data.get("clusters")
    values["clusters"] = None
    if clusters is not None:
        if not isinstance(clusters, dict):
            errors["clusters"] = ["Expected an object: cluster name -> limits."]
        elif len(clusters) > MAX_QUOTA_CLUSTERS:
            errors["clusters"] = [f"At most {MAX_QUOTA_CLUSTERS} clusters."]
        else:
            per: dict[str, Any] = {}
            for name, raw in clusters.items():
                if not isinstance(raw, dict):
                    errors[f"clusters.{name[:253]}"] = ["Expected an object of limits."]
                    continue
                per[name] = _limits_object(
                    errors, f"clusters.{name[:253]}.", raw, tuple(API_NAMES.values())
                )
            values["clusters"] = per
    if errors:
        raise SpecError(errors, message="The quota is invalid.")
    return values


def quota_json(namespace: str, limits: Limits) -> dict[str, Any]:
    """A namespace's limits as the API shows them."""
    return {
        "namespace": namespace,
        **{API_NAMES[r]: limits.limit(r) for r in RESOURCES},
        "priorities": list(limits.priorities) if limits.priorities is not None else None,
        "clusters": {
            name: {API_NAMES[r]: per.limit(r) for r in RESOURCES}
            for name, per in limits.clusters.items()
        }
        or None,
        "default": not limits.explicit,
    }
