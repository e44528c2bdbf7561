"""Reads for pages and the API, always scoped to what the user may see."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.contrib.auth.models import User as AuthUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from clusters.client import get_client
from jobs.exceptions import PodNotFound
from jobs.models import JobEvent, JobStatus, NamespaceGrant, TrainingJob
from jobs.roles import OPERATE_ALL_NAMESPACES, known_operator, remember_operator

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
    operator = known_operator(user)
    if operator:
        return None
    # Every API call and page asks this first: the grants and the operator permission in
    # one round trip, the permission's rows marked. Written out once (_visible_sql) rather
    # than composed by the ORM on every call, whose compiling the UNION cost more CPU than
    # the rest of a create's statements together.
    grants_sql, operator_sql = _visible_sql()
    namespaces, is_operator = set(), False
    with connection.cursor() as cursor:
        if operator is False:
            cursor.execute(grants_sql, [user.pk, user.pk])
        else:
            app_label, codename = OPERATE_ALL_NAMESPACES.split(".")
            cursor.execute(
                f"{grants_sql} UNION ALL {operator_sql}",
                [user.pk, user.pk, app_label, codename, user.pk, user.pk],
            )
        for namespace, marked in cursor.fetchall():
            if marked:
                is_operator = True
            else:
                namespaces.add(namespace)
    if operator is False:
        return namespaces
    return None if remember_operator(user, is_operator) else namespaces


@functools.cache
def _visible_sql() -> tuple[str, str]:
    """(the user's namespace grants, theirs or their groups'; the rows that give them the
    operator permission): the questions ``visible_namespaces`` asks, with the models' own
    table and column names. Parameters: the user's id twice; then app label, codename and
    the user's id twice."""
    grant = NamespaceGrant._meta
    user_groups = AuthUser.groups.through._meta
    user_perms = AuthUser.user_permissions.through._meta
    group_perms = Group.permissions.through._meta
    perm, content_type = Permission._meta, ContentType._meta
    grants = (
        f"SELECT g.{grant.get_field('namespace').column}, FALSE FROM {grant.db_table} g "
        f"WHERE g.{grant.get_field('user').column} = %s OR g.{grant.get_field('group').column} "
        f"IN (SELECT ug.group_id FROM {user_groups.db_table} ug WHERE ug.user_id = %s)"
    )
    operator = (
        f"SELECT '', TRUE FROM {perm.db_table} p "
        f"JOIN {content_type.db_table} ct ON ct.id = p.content_type_id "
        "WHERE ct.app_label = %s AND p.codename = %s AND ("
        f"EXISTS (SELECT 1 FROM {user_perms.db_table} up "
        "WHERE up.permission_id = p.id AND up.user_id = %s) "
        f"OR EXISTS (SELECT 1 FROM {group_perms.db_table} gp "
        f"JOIN {user_groups.db_table} ug ON ug.group_id = gp.group_id "
        "WHERE gp.permission_id = p.id AND ug.user_id = %s))"
    )
    return grants, operator


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


LIST_DEFERRED = ("manifests", "candidate_clusters")


def job_list(*, user: User, filters: dict[str, Any] | None = None) -> QuerySet[TrainingJob]:
    """Jobs the user may see. Filters: status, framework, namespace, cluster, search (name),
    failure_class,
    ordering (an API field name, ``-`` for descending). Unknown values simply match nothing;
    the API validates them before calling."""
    filters = filters or {}
    # A page shows no manifests (kilobytes of JSON per row, decoded on every read) and no
    # candidate list; the detail reads them.
    qs = _scoped(user).select_related("owner").defer(*LIST_DEFERRED)
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
    if filters.get("failure_class"):
        qs = qs.filter(
            status=JobStatus.FAILED, failure_class__in=_as_list(filters["failure_class"])
        )
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
# The platform's own label on every pod template (jobs.manifests.LABEL_JOB_ID).
JOB_ID_LABEL = "mlplatform.io/job-id"
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
    # What a failure or a wait needs besides: the main container's image, its termination's
    # message and end, the pod's own reason/message (Evicted…), when the pod was created.
    image: str = ""
    exit_message: str = ""
    finished_at: datetime | None = None
    pod_reason: str = ""
    pod_message: str = ""
    created_at: datetime | None = None


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
    return _sorted_pods([_pod_view(item) for item in items])


def job_pods_of(*, cluster: str, jobs: list[TrainingJob]) -> dict[str, list[PodView]]:
    """The pods of several jobs on one member cluster, by job id, with one request (a label
    selector on the job ids the platform puts on every pod template)."""
    if not jobs:
        return {}
    ids = ",".join(str(job.id) for job in jobs)
    items = get_client().member_pods_all_namespaces(cluster, f"{JOB_ID_LABEL} in ({ids})")
    found: dict[str, list[PodView]] = {}
    for item in items:
        job_id = ((item.get("metadata") or {}).get("labels") or {}).get(JOB_ID_LABEL)
        if job_id:
            found.setdefault(job_id, []).append(_pod_view(item))
    return {job_id: _sorted_pods(pods) for job_id, pods in found.items()}


def _sorted_pods(pods: list[PodView]) -> list[PodView]:
    return sorted(
        pods,
        key=lambda p: (
            _REPLICA_ORDER.get(p.replica_type, 9),
            p.replica_type,
            p.replica_index if p.replica_index is not None else -1,
            p.name,
        ),
    )


# --- Kubernetes events of a job ------------------------------------------------------------

# The member's events are read per object (an exact name): the workload and at most this
# many pods (coordinators first), each a request, so a page view stays bounded.
MEMBER_EVENT_PODS = 8
EVENTS_PER_OBJECT = 200
# How long one read of a job's events serves further page views and API calls.
EVENTS_CACHE_SECONDS = 10


@dataclass(frozen=True)
class ClusterEvent:
    """One Kubernetes event about the job: from Karmada (template, policy, binding) or from
    its member cluster (the workload and its pods)."""

    time: datetime | None
    source: str  # "karmada" or the member cluster's name
    object_kind: str
    object_name: str
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int


def _event(item: dict[str, Any], source: str) -> ClusterEvent:
    involved = item.get("involvedObject") or item.get("involved_object") or {}
    when = (
        item.get("lastTimestamp")
        or item.get("eventTime")
        or item.get("firstTimestamp")
        or (item.get("metadata") or {}).get("creationTimestamp")
    )
    return ClusterEvent(
        time=_time(when),
        source=source,
        object_kind=involved.get("kind") or "",
        object_name=involved.get("name") or "",
        type=item.get("type") or "",
        reason=item.get("reason") or "",
        message=item.get("message") or "",
        count=int(item.get("count") or 1),
    )


def _event_pod_names(job: TrainingJob) -> list[str]:
    """The job's pods as last stored (no request); read live only before the first read."""
    pods = [pod for group in job.replica_status or [] for pod in group.get("pods") or []]
    # The pods that explain something first: those that failed or wait.
    pods.sort(key=lambda pod: pod.get("phase") not in ("Failed", "Pending"))
    names = [pod["name"] for pod in pods if pod.get("name")]
    if names or job.is_final:
        return names
    return [p.name for p in job_pods(job=job)]


def job_cluster_events(job: TrainingJob) -> dict[str, Any]:
    """The Kubernetes events about the job, oldest first: Karmada's for its template,
    policy and binding, and its member's for the workload and pods. Bounded requests
    per ``EVENTS_CACHE_SECONDS`` and job, whatever the number of viewers: two to Karmada,
    and to the member one for the workload and one per pod (at most ``MEMBER_EVENT_PODS``).

    Returns ``{"events": [...], "errors": {cluster: message}}``: a member that does not
    answer leaves Karmada's events (and says so) rather than failing the whole answer;
    raises ``ClusterError`` when Karmada itself does not answer."""
    from django.core.cache import cache

    from clusters import karmada
    from clusters.client import ClusterError
    from jobs.frameworks import get_framework

    if job.status in (JobStatus.PENDING, JobStatus.DELETED, JobStatus.SUBMIT_FAILED):
        return {"events": [], "errors": {}}
    key = f"job-events:{job.id}:{job.cluster}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    client = get_client()
    events: list[ClusterEvent] = []
    errors: dict[str, str] = {}
    kind = get_framework(job.framework).kind
    # Karmada not answering fails the whole read (ClusterError): the caller shows an outage.
    for name in (job.k8s_name, karmada.binding_name(job.k8s_name, kind)):
        items = client.list_events(
            job.namespace, field_selector=f"involvedObject.name={name}", limit=200
        )
        events += [_event(item, "karmada") for item in items]
    if job.cluster:
        try:
            names = [job.k8s_name, *_event_pod_names(job)[:MEMBER_EVENT_PODS]]
            for name in names:
                items = client.member_events(
                    job.cluster,
                    job.namespace,
                    field_selector=f"involvedObject.name={name}",
                    limit=EVENTS_PER_OBJECT,
                )
                events += [_event(item, job.cluster) for item in items]
        except ClusterError as exc:
            errors[job.cluster] = exc.message
    floor = datetime.min.replace(tzinfo=UTC)
    events.sort(key=lambda e: (e.time or floor, e.source != "karmada"))
    result = {"events": events, "errors": errors}
    cache.set(key, result, EVENTS_CACHE_SECONDS)
    return result


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
        image=next(
            (
                c.get("image", "")
                for c in spec.get("containers") or []
                if c.get("name") == container
            ),
            "",
        ),
        exit_message=(terminated or {}).get("message") or "",
        finished_at=_time((terminated or {}).get("finishedAt")),
        pod_reason=status.get("reason") or "",
        pod_message=status.get("message") or "",
        created_at=_time(meta.get("creationTimestamp")),
    )


def _time(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) and value else None


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


# --- following a live log ----------------------------------------------------------------

# A follower asks every couple of seconds; which pods belong to the job is asked of the
# member at most this often per job, not on every poll.
POD_LIST_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class LogChunk:
    """Lines of a live log and where they end: ``cursor`` (the container runtime's time
    stamp of the last line) passed back as ``since`` returns only the lines after it."""

    text: str
    cursor: str | None
    pod: PodView


def _timestamp_key(stamp: str) -> tuple[str, int] | None:
    """``2025-01-01T00:00:01.5Z`` → (``2025-01-01T00:00:01``, 500000000): comparable at
    nanosecond precision (RFC 3339 stamps drop trailing zeros, so strings are not)."""
    if not stamp.endswith("Z") or "T" not in stamp:
        return None
    whole, _, fraction = stamp[:-1].partition(".")
    if len(whole) != 19 or (not fraction.isdigit() and fraction):
        return None
    return whole, int((fraction or "0").ljust(9, "0")[:9])


def _job_pod_cached(job: TrainingJob, pod: str) -> PodView:
    from django.core.cache import cache

    key = f"job-pods:{job.id}:{job.cluster}"
    pods = cache.get(key)
    if pods is None or not any(p.name == pod for p in pods):
        pods = job_pods(job=job)
        cache.set(key, pods, POD_LIST_CACHE_SECONDS)
    match = next((p for p in pods if p.name == pod), None)
    if match is None:
        raise PodNotFound(f"{pod} is not a pod of job {job.name}")
    return match


def job_pod_log_follow(
    *, job: TrainingJob, pod: str, tail_lines: int = 500, since: str | None = None
) -> LogChunk:
    """The main container's log lines after ``since`` (a cursor from an earlier chunk), or
    its last ``tail_lines`` lines without one. Kubernetes takes ``sinceTime`` to the
    second only, so the lines of that second already seen are dropped here."""
    tail_lines = max(1, min(int(tail_lines), MAX_TAIL_LINES))
    match = _job_pod_cached(job, pod)
    since_key = _timestamp_key(since) if since else None
    raw = get_client().member_pod_log(
        job.cluster,
        job.namespace,
        match.name,
        tail_lines=None if since_key else tail_lines,
        container=match.container,
        timestamps=True,
        since_time=f"{since_key[0]}Z" if since_key else None,
    )
    lines: list[str] = []
    cursor = since if since_key else None
    for line in raw.splitlines():
        stamp, _, text = line.partition(" ")
        key = _timestamp_key(stamp)
        if key is None:  # not stamped (should not happen): keep the line as it is
            lines.append(line)
            continue
        if since_key and key <= since_key:
            continue
        lines.append(text)
        cursor = stamp
    text = "\n".join(lines[-MAX_TAIL_LINES:]) + ("\n" if lines else "")
    return LogChunk(text=text, cursor=cursor, pod=match)


def run_again_name(*, job: TrainingJob) -> str:
    """The name a new run of ``job`` gets: its name with the next free run number in its
    namespace (``train`` → ``train-2``, then ``train-3``)."""
    from jobs.specs import next_run_name

    stem = job.name.rsplit("-", 1)[0] if job.name.rsplit("-", 1)[-1].isdigit() else job.name
    taken = set(
        TrainingJob.objects.filter(namespace=job.namespace, name__startswith=stem).values_list(
            "name", flat=True
        )[:5000]
    )
    return next_run_name(job.name, taken)
