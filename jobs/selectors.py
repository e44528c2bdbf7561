"""Reads for pages and the API, always scoped to what the user may see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from clusters.client import get_client
from jobs.exceptions import PodNotFound
from jobs.models import JobEvent, JobStatus, NamespaceGrant, TrainingJob
from jobs.roles import is_platform_operator

# Django's own user model (the project sets no other): its groups carry namespace grants.
User = AuthUser | AnonymousUser

ORDERING_FIELDS = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "jobName": "name",
    "status": "status",
    "namespace": "namespace",
    "framework": "framework",
}


def visible_namespaces(*, user: User) -> set[str] | None:
    """Namespaces the user may see; ``None`` means all of them (platform operators).

    ``is_staff`` grants nothing here: it only opens the admin, where the same scoping
    applies."""
    if not user.is_authenticated:
        return set()
    if is_platform_operator(user):
        return None
    grants = NamespaceGrant.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
    return set(grants.values_list("namespace", flat=True))


def namespace_suggestions() -> list[str]:
    """Namespaces an operator is likely to mean: every granted one and every one in use."""
    granted = NamespaceGrant.objects.values_list("namespace", flat=True)
    used = TrainingJob.objects.values_list("namespace", flat=True)
    return sorted(set(granted.distinct()) | set(used.distinct()))


def user_can_use_namespace(*, user: User, namespace: str) -> bool:
    allowed = visible_namespaces(user=user)
    return allowed is None or namespace in allowed


def scope_to_user(qs: QuerySet, *, user: User, field: str = "namespace") -> QuerySet:
    """``qs`` narrowed to the rows whose ``field`` (a namespace) the user may see: the one
    rule the pages, the API and the admin share."""
    allowed = visible_namespaces(user=user)
    if allowed is None:
        return qs
    return qs.filter(**{f"{field}__in": allowed})


def _scoped(user: User) -> QuerySet[TrainingJob]:
    return scope_to_user(TrainingJob.objects.all(), user=user)


def job_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[TrainingJob]:
    """Jobs the user may see. Filters: status, framework, namespace, cluster, search (name),
    ordering (an API field name, ``-`` for descending). Unknown values simply match nothing;
    the API validates them before calling."""
    filters = filters or {}
    qs = _scoped(user).select_related("owner")
    if filters.get("status"):
        qs = qs.filter(status__in=_as_list(filters["status"]))
    if filters.get("framework"):
        qs = qs.filter(framework__in=_as_list(filters["framework"]))
    if filters.get("namespace"):
        qs = qs.filter(namespace__in=_as_list(filters["namespace"]))
    if filters.get("cluster"):
        qs = qs.filter(cluster__in=_as_list(filters["cluster"]))
    if filters.get("search"):
        qs = qs.filter(name__icontains=filters["search"])
    ordering = filters.get("ordering") or "-createdAt"
    descending = ordering.startswith("-")
    field = ORDERING_FIELDS.get(ordering.lstrip("-"), "created_at")
    return qs.order_by(("-" if descending else "") + field, "-id")


def job_get(*, user: User, job_id: uuid.UUID | str) -> TrainingJob:
    """The job, or ``TrainingJob.DoesNotExist`` when it does not exist *or* the user may not
    see it: an outsider learns nothing about other namespaces."""
    try:
        job_uuid = uuid.UUID(str(job_id))
    except ValueError:
        raise TrainingJob.DoesNotExist(f"no job {job_id}") from None
    return _scoped(user).select_related("owner").get(id=job_uuid)


def job_events(*, job: TrainingJob) -> QuerySet[JobEvent]:
    return job.events.all()


# --- pods on the member cluster --------------------------------------------------------------

# training-operator and mpi-operator both label every pod of a job with its name; the
# replica type is `replica-type` for the former and `job-role` (launcher/worker) for the
# latter (checked on the testbed with training-operator v1.9 and mpi-operator v0.8).
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
REPLICA_TYPE_LABELS = ("training.kubeflow.org/replica-type", "training.kubeflow.org/job-role")
REPLICA_INDEX_LABEL = "training.kubeflow.org/replica-index"
# Coordinators first, then workers, so the pod that usually explains a failure is on top.
_REPLICA_ORDER = {"launcher": 0, "chief": 1, "master": 2, "ps": 3, "worker": 4, "evaluator": 5}
MAX_TAIL_LINES = 5000


@dataclass(frozen=True)
class PodView:
    """One pod of a job, reduced to what someone watching the job needs."""

    name: str
    replica_type: str
    replica_index: int | None
    phase: str
    ready: bool
    restarts: int
    node: str
    started_at: datetime | None
    container: str
    # The main container's current termination, or its last one while it runs again after
    # a restart (why it restarted: OOMKilled, Error…).
    exit_code: int | None
    exit_reason: str
    # Why the pod is not running yet (Unschedulable, ContainerCreating, ImagePullBackOff) or
    # is stuck (CrashLoopBackOff).
    waiting_reason: str
    waiting_message: str


def job_pod_selector(job: TrainingJob) -> str:
    return f"{JOB_NAME_LABEL}={job.k8s_name}"


def job_pods(*, job: TrainingJob) -> list[PodView]:
    """The job's pods as its member cluster has them now, read through Karmada's cluster
    proxy. Empty until Karmada placed the job. Raises ``ClusterError`` when Karmada or the
    member does not answer; callers show that instead of the list."""
    # A deleted job's objects are gone: no need to ask the cluster to confirm it.
    if not job.cluster or job.status == JobStatus.DELETED:
        return []
    items = get_client().member_pods(job.cluster, job.namespace, job_pod_selector(job))
    pods = [_pod_view(item) for item in items]
    return sorted(
        pods,
        key=lambda p: (
            _REPLICA_ORDER.get(p.replica_type, 9),
            p.replica_type,
            p.replica_index if p.replica_index is not None else -1,
            p.name,
        ),
    )


def job_pod_log(*, job: TrainingJob, pod: str, tail_lines: int = 500) -> str:
    """The last ``tail_lines`` lines of the main container's log of one of the job's pods.

    The name is checked against the job's own pods (listed by the job's label) before any
    log is read: the caller may see this job, not necessarily every pod in its namespace.
    Raises ``PodNotFound`` for any other name, ``ClusterError`` when the cluster fails."""
    tail_lines = max(1, min(int(tail_lines), MAX_TAIL_LINES))
    match = next((p for p in job_pods(job=job) if p.name == pod), None)
    if match is None:
        raise PodNotFound(f"{pod} is not a pod of job {job.name}")
    return get_client().member_pod_log(
        job.cluster, job.namespace, match.name, tail_lines=tail_lines, container=match.container
    )


def _pod_view(pod: dict[str, Any]) -> PodView:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    labels = meta.get("labels") or {}
    replica_type = next((labels[k] for k in REPLICA_TYPE_LABELS if labels.get(k)), "")
    try:
        replica_index: int | None = int(labels[REPLICA_INDEX_LABEL])
    except (KeyError, ValueError):
        replica_index = None

    container = _main_container(meta, spec)
    cstatus: dict[str, Any] = next(
        (c for c in status.get("containerStatuses") or [] if c.get("name") == container), {}
    )
    state = cstatus.get("state") or {}
    restarts = int(cstatus.get("restartCount") or 0)
    terminated = state.get("terminated") or (
        (cstatus.get("lastState") or {}).get("terminated") if restarts else None
    )
    conditions = {c.get("type"): c for c in status.get("conditions") or []}

    waiting_reason = waiting_message = ""
    scheduled = conditions.get("PodScheduled") or {}
    if scheduled.get("status") == "False":
        waiting_reason = scheduled.get("reason") or "Unschedulable"
        waiting_message = scheduled.get("message") or ""
    elif state.get("waiting"):
        waiting_reason = state["waiting"].get("reason") or ""
        waiting_message = state["waiting"].get("message") or ""

    exit_reason = (terminated or {}).get("reason") or ""
    if not exit_reason and status.get("reason"):
        # Pod-level reasons (Evicted, DeadlineExceeded) leave no container termination.
        exit_reason = status["reason"]
    return PodView(
        name=meta.get("name", ""),
        replica_type=replica_type.lower(),
        replica_index=replica_index,
        phase=status.get("phase") or "Unknown",
        ready=(conditions.get("Ready") or {}).get("status") == "True",
        restarts=restarts,
        node=spec.get("nodeName") or "",
        started_at=parse_datetime(status["startTime"]) if status.get("startTime") else None,
        container=container,
        exit_code=terminated.get("exitCode") if terminated else None,
        exit_reason=exit_reason,
        waiting_reason=waiting_reason,
        waiting_message=waiting_message,
    )


def _main_container(meta: dict[str, Any], spec: dict[str, Any]) -> str:
    """The container `kubectl logs` would pick: the annotated default, else the first."""
    annotated = (meta.get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    if annotated:
        return annotated
    containers = spec.get("containers") or []
    return containers[0].get("name", "") if containers else ""


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]


# --- queue and quotas -------------------------------------------------------------------


@dataclass
class NamespaceQueue:
    """One namespace in the queue overview: its limits, what it holds, who waits."""

    namespace: str
    limits: Any  # jobs.queue.Limits
    usage: Any  # jobs.queue.Usage
    waiting: list[TrainingJob]

    def bars(self) -> list[dict[str, Any]]:
        """Usage against each limit, for the page: label, used, limit, percent."""
        from jobs.queue import RESOURCES

        labels = {
            "gpus": "GPUs",
            "cpu_cores": "CPU cores",
            "memory_gib": "Memory (GiB)",
            "running_jobs": "Running jobs",
        }
        bars = []
        for resource in RESOURCES:
            limit = self.limits.limit(resource)
            used = self.usage.get(resource)
            percent = None
            if limit:
                percent = min(100, round(100 * used / limit))
            elif limit == 0:
                percent = 100
            bars.append(
                {
                    "label": labels[resource],
                    "used": used,
                    "limit": limit,
                    "percent": percent,
                    "full": limit is not None and used >= limit,
                }
            )
        return bars


def quota_namespaces(*, user: User) -> list[str]:
    """The namespaces whose quota the user may read: granted ones, or (operators) every
    one with a quota, a waiting job or a job holding quota."""
    from jobs.models import QUOTA_STATUSES, NamespaceQuota

    allowed = visible_namespaces(user=user)
    if allowed is not None:
        return sorted(allowed)
    names = set(NamespaceQuota.objects.values_list("namespace", flat=True))
    active = TrainingJob.objects.filter(status__in=[*QUOTA_STATUSES, JobStatus.QUEUED]).values_list(
        "namespace", flat=True
    )
    names |= set(active.distinct())
    return sorted(names)


def quota_list(*, user: User) -> list[tuple[str, Any]]:
    """(namespace, limits) for every namespace the user may read, explicit or default."""
    from jobs.models import NamespaceQuota
    from jobs.queue import default_limits, limits_of

    namespaces = quota_namespaces(user=user)
    explicit = {q.namespace: q for q in NamespaceQuota.objects.filter(namespace__in=namespaces)}
    return [
        (ns, limits_of(explicit[ns]) if ns in explicit else default_limits()) for ns in namespaces
    ]


def queue_overview(*, user: User, namespace: str | None = None) -> list[NamespaceQueue]:
    """Usage against quota and the waiting jobs in order, per namespace the user may see
    (a few queries, whatever the number of namespaces and jobs)."""
    from jobs.queue import Usage, current_usage, namespace_limits, priority_rank

    if namespace is not None:
        # The caller checked that the user may see it (else 404).
        quotas = [(namespace, namespace_limits(namespace))]
    else:
        quotas = quota_list(user=user)
    names = [ns for ns, _ in quotas]
    usage, _ = current_usage()
    waiting: dict[str, list[TrainingJob]] = {ns: [] for ns in names}
    queued = TrainingJob.objects.filter(status=JobStatus.QUEUED, namespace__in=names)
    for job in queued.select_related("owner"):
        waiting[job.namespace].append(job)
    for jobs in waiting.values():
        jobs.sort(
            key=lambda j: (
                j.queue_position if j.queue_position is not None else 10**9,
                priority_rank(j.priority),
                j.created_at,
            )
        )
    return [
        NamespaceQueue(ns, limits, usage.get(ns) or Usage(), waiting[ns]) for ns, limits in quotas
    ]
