"""Every write to a job: create, submit, delete, resubmit and status changes.

State changes that others may race (the web, the submit and delete tasks, the one-second
sync) are compare-and-swap updates on the status column: ``filter(status=old).update(...)``
returning 0 means someone else moved the job first, and the caller stands back. Slow I/O to
Karmada always happens outside transactions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clusters import karmada
from clusters.client import (
    MANAGED_BY_SELECTOR,
    ClusterError,
    KarmadaClient,
    ResourceRef,
    get_client,
    ref_for,
)
from clusters.selectors import unready_clusters
from clusters.services import (
    Demand,
    PlacementError,
    control_plane_report,
    placement_candidates,
    rank_candidates,
)
from jobs.exceptions import JobStateError, SpecError
from jobs.frameworks import get_framework, job_workload_kind, workload_kinds
from jobs.manifests import (
    LAUNCHER_CPU_CORES,
    LAUNCHER_MEMORY_GIB,
    build_manifests,
    kubernetes_name,
)
from jobs.models import (
    ACTIVE_STATUSES,
    DELETE_FAILED_REASON,
    FINAL_STATUSES,
    INTERNAL_ERROR_REASON,
    JobEvent,
    JobStatus,
    TrainingJob,
)
from jobs.namespaces import system_namespace_reason, system_namespace_rule
from jobs.selectors import user_can_use_namespace
from jobs.specs import parse_job_request, request_namespace
from jobs.status import Observed, advances, implied_steps, observe
from mlplatform import metrics

log = logging.getLogger(__name__)


def _record(
    job_id: uuid.UUID, old: str, new: str, *, reason: str = "", message: str = "", cluster: str = ""
) -> None:
    JobEvent.objects.create(
        job_id=job_id,
        from_status=old,
        to_status=new,
        reason=reason[:200],
        message=message,
        cluster=cluster,
    )


def job_transition(
    *,
    job_id: uuid.UUID,
    old: str,
    new: str,
    reason: str = "",
    message: str = "",
    cluster: str | None = None,
    **fields: Any,
) -> bool:
    """Move a job from ``old`` to ``new`` if nobody moved it first; records history.

    Returns False (and changes nothing) when the job is no longer in ``old``.
    """
    values: dict[str, Any] = {
        "status": new,
        "status_reason": reason[:200],
        "status_message": message,
        "updated_at": timezone.now(),
        **fields,
    }
    if cluster is not None:
        values["cluster"] = cluster
    with transaction.atomic():
        changed = TrainingJob.objects.filter(id=job_id, status=old).update(**values)
        if changed and old != new:
            _record(job_id, old, new, reason=reason, message=message, cluster=cluster or "")
    return bool(changed)


# --- create -------------------------------------------------------------------------


# The request path each kind of placement refusal is about.
_PLACEMENT_PATHS = {"target_clusters": "targetClusters", "resources": "resources"}


def job_create(*, user: User | AnonymousUser, data: Any) -> TrainingJob:
    """Validate a request (the API's camelCase body), store it, and submit it after commit.

    A namespace the body names is checked first, on its own: someone without access to it
    learns nothing about the rest of the body and costs no more than reading it. Without
    one (the default namespace), the body's own problems come first."""
    given = request_namespace(data)
    if given is not None:
        _require_namespace_access(user=user, namespace=given)
    spec = parse_job_request(data)
    pattern = system_namespace_rule(spec.namespace)
    if pattern:
        raise SpecError(
            {
                "namespace": [
                    system_namespace_reason(
                        spec.namespace, pattern, refused="jobs may not run there."
                    )
                ]
            }
        )
    _require_namespace_access(user=user, namespace=spec.namespace)
    demand = Demand.of(
        cpu_cores=spec.cpu_cores,
        memory_gib=spec.memory_gib,
        gpu_count=spec.gpu_count,
        instances=spec.instance_count,
    )
    if get_framework(spec.framework).is_mpi:
        # MPI jobs also run a launcher pod beside their workers, in the same cluster.
        demand = demand + Demand(LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB, 0)
    try:
        fitting = placement_candidates(target_clusters=spec.target_clusters, demand=demand)
    except PlacementError as exc:
        path = _PLACEMENT_PATHS[exc.field]
        if exc.message:
            raise SpecError({path: exc.reasons}, message=exc.message) from exc
        raise SpecError({path: exc.reasons}) from exc
    candidates = rank_candidates(fitting, demand=demand, strategy=settings.PLACEMENT_STRATEGY)
    job = TrainingJob(
        name=spec.name,
        namespace=spec.namespace,
        owner=user if isinstance(user, User) else None,  # an AnonymousUser owns nothing
        framework=spec.framework,
        backend=settings.TRAINING_BACKEND,
        algorithm_source=spec.algorithm_source,
        algorithm_name=spec.algorithm_name,
        image=spec.image,
        command=list(spec.command),
        cpu_cores=spec.cpu_cores,
        memory_gib=spec.memory_gib,
        gpu_count=spec.gpu_count,
        instance_count=spec.instance_count,
        volume_size_gb=spec.volume_size_gb,
        hyperparameters=dict(spec.hyperparameters),
        target_clusters=list(spec.target_clusters),
        candidate_clusters=candidates,
        run_policy=dict(spec.run_policy),
        labels=dict(spec.labels),
    )
    job.submit_token = uuid.uuid4()
    # Kubernetes names carry 8 hex digits of the id: two jobs of the same name can, rarely,
    # draw the same ones. A fresh id makes a fresh name; the unique column is the referee.
    for attempt in range(3):
        job.k8s_name = kubernetes_name(spec.name, job.id)
        # The manifests are fixed at creation: every retry sends exactly what the page shows.
        job.manifests = build_manifests(job)
        try:
            with transaction.atomic():
                job.save(force_insert=True)
                _record(
                    job.id,
                    "",
                    JobStatus.PENDING,
                    reason="Created",
                    message=f"Accepted; candidate clusters: {', '.join(candidates)}.",
                )
        except IntegrityError:
            if attempt == 2 or not TrainingJob.objects.filter(k8s_name=job.k8s_name).exists():
                raise
            job.id = uuid.uuid4()
            continue
        break
    token = job.submit_token
    transaction.on_commit(lambda: _enqueue_submit(job.id, token))
    return job


def _require_namespace_access(*, user, namespace: str) -> None:
    if not user_can_use_namespace(user=user, namespace=namespace):
        raise SpecError(
            {"namespace": [f"You have no access to namespace '{namespace}'."]},
            message="You may not create jobs in this namespace.",
            status_code=403,
        )


def _enqueue_submit(job_id: uuid.UUID, token: uuid.UUID | None) -> None:
    from jobs.tasks import job_submit_task

    try:
        job_submit_task.delay(job_id=str(job_id), token=str(token) if token else None)
    except Exception:  # broker down: the pending sweep submits it later
        log.exception("could not enqueue submission of job %s; the sweep will retry", job_id)


def _enqueue_delete(job_id: uuid.UUID) -> None:
    from jobs.tasks import job_delete_task

    try:
        job_delete_task.delay(job_id=str(job_id))
    except Exception:
        log.exception("could not enqueue deletion of job %s; the sweep will retry", job_id)


# --- submit -------------------------------------------------------------------------


def _attempt_note(at: datetime | None) -> str:
    if at is None:
        return ""
    return f" Next attempt at {timezone.localtime(at):%H:%M:%S %Z}."


def _token_matches(job: TrainingJob, token: uuid.UUID | str | None) -> bool:
    # Messages queued before chains had tokens carry none, and act as before.
    return token is None or job.submit_token is None or str(job.submit_token) == str(token)


def job_submit(*, job_id: uuid.UUID | str, token: uuid.UUID | str | None = None) -> str:
    """Create the job's PropagationPolicy and workload on Karmada, idempotently.

    ``token`` names the submit chain; a chain whose token is no longer the job's was
    superseded and does nothing ("superseded"). Raises ClusterError(permanent=False) for
    the task to retry; a permanent refusal marks the job SubmitFailed with the API server's
    words and removes whatever this attempt had created. Returns the job's status after.
    """
    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None or job.status != JobStatus.PENDING:
        return job.status if job else "missing"
    if not _token_matches(job, token):
        return "superseded"
    TrainingJob.objects.filter(id=job.id).update(submit_attempts=F("submit_attempts") + 1)
    workload, policy = job.manifests[0], job.manifests[1]
    try:
        client = get_client()
        client.ensure_namespace(job.namespace)
        # The policy first: Karmada's detector then binds the workload the moment it appears.
        client.create(policy)
        client.create(workload)
    except ClusterError as exc:
        if exc.permanent:
            if job_transition(
                job_id=job.id,
                old=JobStatus.PENDING,
                new=JobStatus.SUBMIT_FAILED,
                reason="KarmadaRejected",
                message=exc.message,
                next_attempt_at=None,
                finished_at=timezone.now(),
            ):
                # The policy may exist without its workload: nothing outlives the job. If
                # Karmada cannot be asked now, the cleanup sweep removes it later.
                _delete_objects_quietly(job)
            return JobStatus.SUBMIT_FAILED
        TrainingJob.objects.filter(id=job.id, status=JobStatus.PENDING).update(
            status_reason="SubmitRetrying", status_message=exc.message, updated_at=timezone.now()
        )
        raise
    if job_transition(
        job_id=job.id,
        old=JobStatus.PENDING,
        new=JobStatus.SUBMITTED,
        reason="Submitted",
        message="Created the workload and its PropagationPolicy on Karmada.",
        submitted_at=timezone.now(),
        next_attempt_at=None,
    ):
        metrics.observe("submit_latency_seconds", (timezone.now() - job.created_at).total_seconds())
        return JobStatus.SUBMITTED
    # Someone moved the job while we were creating: if it was a delete, make sure what we
    # just created does not outlive it (the cleanup sweep is the backstop).
    job.refresh_from_db(fields=["status"])
    if job.status in (JobStatus.DELETING, JobStatus.DELETED):
        _delete_objects_quietly(job)
    return job.status


def job_submit_retry_scheduled(
    *, job_id: uuid.UUID | str, token: uuid.UUID | str | None, message: str, at: datetime
) -> None:
    """A transient failure: the chain tries again at ``at``; the job says so."""
    TrainingJob.objects.filter(_chain_filter(token), id=job_id, status=JobStatus.PENDING).update(
        status_reason="SubmitRetrying",
        status_message=f"{message}.{_attempt_note(at)}",
        next_attempt_at=at,
        updated_at=timezone.now(),
    )


def job_submit_gave_up(
    *, job_id: uuid.UUID | str, message: str, token: uuid.UUID | str | None = None
) -> None:
    """Retries ran out on transient errors: the job stays Pending and says why; the sweep
    starts a new chain after JOB_PENDING_RESUBMIT_AFTER seconds."""
    at = timezone.now() + timedelta(seconds=settings.JOB_PENDING_RESUBMIT_AFTER)
    TrainingJob.objects.filter(_chain_filter(token), id=job_id, status=JobStatus.PENDING).update(
        status_reason="KarmadaUnreachable",
        status_message=f"{message}. Will try again automatically.{_attempt_note(at)}",
        next_attempt_at=None,
        updated_at=timezone.now(),
    )


def job_task_crashed(*, job_id: uuid.UUID | str, action: str, exc: BaseException) -> None:
    """A bug, not an outage: the job says so and nothing retries it in a loop. (The task
    has logged the traceback.) A resubmit or delete by the user tries again."""
    TrainingJob.objects.filter(id=job_id).exclude(status__in=FINAL_STATUSES).update(
        status_reason=INTERNAL_ERROR_REASON,
        status_message=(
            f"The platform hit an internal error while {action} the job "
            f"({type(exc).__name__}: {str(exc)[:300]}). It was logged for the operators; "
            "it is not retried automatically."
        ),
        next_attempt_at=None,
        updated_at=timezone.now(),
    )


def _chain_filter(token: uuid.UUID | str | None) -> Q:
    return Q(submit_token=token) if token else Q()


def _start_submit_chain(job_id: uuid.UUID) -> None:
    """Make a new chain the only one allowed to submit the job, then enqueue it."""
    token = uuid.uuid4()
    TrainingJob.objects.filter(id=job_id).update(
        submit_token=token, next_attempt_at=None, updated_at=timezone.now()
    )
    transaction.on_commit(lambda: _enqueue_submit(job_id, token))


def job_resubmit(*, job: TrainingJob, user: User | AnonymousUser) -> TrainingJob:
    """Send a SubmitFailed (or waiting Pending) job to Karmada again, now.

    Idempotent: the new chain supersedes any chain still waiting to retry, so however often
    it is called, one chain submits the job.
    """
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(id=job.id)
        if locked.status == JobStatus.SUBMIT_FAILED:
            job_transition(
                job_id=job.id,
                old=JobStatus.SUBMIT_FAILED,
                new=JobStatus.PENDING,
                reason="Resubmitted",
                message=f"Resubmitted by {user}.",
                finished_at=None,
            )
        elif locked.status != JobStatus.PENDING:
            raise JobStateError(
                f"Only Pending or SubmitFailed jobs can be resubmitted (it is {locked.status})."
            )
        _start_submit_chain(job.id)
    job.refresh_from_db()
    return job


# --- delete -------------------------------------------------------------------------


def job_delete(*, job: TrainingJob, user: User | AnonymousUser) -> TrainingJob:
    """Ask for the job's objects to be removed from Karmada; the job shows Deleting, then
    Deleted once they are gone."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(id=job.id)
        if not locked.can_delete:
            raise JobStateError(f"The job is already {locked.status.lower()}.")
        old = locked.status
        job_transition(
            job_id=job.id,
            old=old,
            new=JobStatus.DELETING,
            reason="DeleteRequested",
            message=f"Deletion requested by {user}.",
            next_attempt_at=None,
        )
        transaction.on_commit(lambda: _enqueue_delete(job.id))
    job.refresh_from_db()
    return job


def _refs(job: TrainingJob) -> list[ResourceRef]:
    return [ref_for(obj) for obj in job.manifests]


def _delete_objects(job: TrainingJob) -> bool:
    """Delete the workload and policy; True once neither exists on Karmada any more."""
    client = get_client()
    refs = _refs(job)
    for ref in refs:
        client.delete(ref)
    return all(client.get(ref) is None for ref in refs)


def _delete_objects_quietly(job: TrainingJob) -> None:
    if not job.manifests:
        return
    try:
        _delete_objects(job)
    except ClusterError as exc:
        log.warning("could not remove the objects of job %s yet (%s); the sweep will", job.id, exc)


def job_finish_delete(*, job_id: uuid.UUID | str) -> str:
    """Remove a Deleting job's objects; raises ClusterError while they still exist."""
    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None or job.status != JobStatus.DELETING:
        return job.status if job else "missing"
    if job.manifests and not _delete_objects(job):
        raise ClusterError("The workload is still being removed from Karmada", permanent=False)
    job_transition(
        job_id=job.id,
        old=JobStatus.DELETING,
        new=JobStatus.DELETED,
        reason="Deleted",
        message="Removed from Karmada and its member cluster.",
        finished_at=job.finished_at or timezone.now(),
        next_attempt_at=None,
    )
    return JobStatus.DELETED


def job_delete_retry_scheduled(*, job_id: uuid.UUID | str, message: str, at: datetime) -> None:
    TrainingJob.objects.filter(id=job_id, status=JobStatus.DELETING).update(
        status_reason="DeleteRetrying",
        status_message=f"{message}.{_attempt_note(at)}",
        next_attempt_at=at,
        updated_at=timezone.now(),
    )


def job_delete_failed(*, job_id: uuid.UUID | str, message: str) -> None:
    """Karmada refused the delete for good (e.g. 403): stop retrying and say so."""
    TrainingJob.objects.filter(id=job_id, status=JobStatus.DELETING).update(
        status_reason=DELETE_FAILED_REASON,
        status_message=(
            f"Karmada refused to delete the job's objects: {message}. Not retried "
            "automatically: fix the cause, then delete the job again."
        ),
        next_attempt_at=None,
        updated_at=timezone.now(),
    )


# --- status -------------------------------------------------------------------------


def job_apply_status(
    *, job_id: uuid.UUID | str, status: str, reason: str = "", message: str = "", cluster: str = ""
) -> bool:
    """Record an observed status for a job (used by the sync, the admin and tests)."""
    job = TrainingJob.objects.get(id=job_id)
    return _apply_observed(
        job, Observed(status=status, reason=reason, message=message, cluster=cluster)
    )


def _apply_observed(job: TrainingJob, seen: Observed) -> bool:
    """Record ``seen`` (and the states it implies the job went through) if it is news."""
    if not advances(job.status, seen, job.status_reason, job.status_message):
        return False
    changed = False
    for step in [*implied_steps(job.status, seen), seen]:
        if not _record_observed(job, step):
            return changed  # someone else moved the job meanwhile: stand back
        changed = True
    return changed


def _record_observed(job: TrainingJob, seen: Observed) -> bool:
    fields: dict[str, Any] = {}
    now = timezone.now()
    if not job.submitted_at:
        fields["submitted_at"] = now
    if seen.status in (JobStatus.RUNNING, JobStatus.RESTARTING) and not job.started_at:
        fields["started_at"] = seen.started_at or now
    if seen.status in FINAL_STATUSES:
        fields["finished_at"] = seen.finished_at or now
        fields.setdefault("started_at", job.started_at or seen.started_at)
    if job.missing_since and seen.reason != MISSING_REASON:
        fields["missing_since"] = None
    cluster = seen.cluster or job.cluster
    if not job_transition(
        job_id=job.id,
        old=job.status,
        new=seen.status,
        reason=seen.reason,
        message=seen.message,
        cluster=cluster,
        **fields,
    ):
        return False
    if seen.changed_at and seen.status != job.status:
        metrics.observe("status_lag_seconds", (now - seen.changed_at).total_seconds())
    # Keep the in-memory row in step for the next implied step.
    job.status, job.status_reason, job.status_message, job.cluster = (
        seen.status,
        seen.reason,
        seen.message,
        cluster,
    )
    for name, value in fields.items():
        setattr(job, name, value)
    return True


MISSING_REASON = "WorkloadMissing"
# How many workloads one pass may GET to confirm they are gone (each GET is a request).
_MISSING_CHECKS_PER_PASS = 20


class _PassBudget:
    """The wall time one sync pass may use before it stops asking Karmada: a hung API
    server must not make a pass outlive the lock that keeps passes from overlapping."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    @property
    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


def sync_lock_ttl() -> float:
    """Longer than the worst pass: the budget, plus one request that started just before
    it ran out and waits its whole connect and read timeouts."""
    one_request = settings.KARMADA_CONNECT_TIMEOUT + settings.KARMADA_READ_TIMEOUT
    return settings.JOB_SYNC_BUDGET + one_request + 5.0


# What the sync reads of every active job each second. Not the manifests (kilobytes each):
# the few jobs whose workload must be confirmed missing load theirs on first access.
_ACTIVE_FIELDS = (
    "id",
    "framework",
    "backend",
    "status",
    "status_reason",
    "status_message",
    "cluster",
    "k8s_name",
    "namespace",
    "submitted_at",
    "started_at",
    "finished_at",
    "missing_since",
)


def job_status_sync() -> int:
    """One pass of the status sync: one LIST per workload kind plus one of ResourceBindings,
    whatever the number of jobs; writes only jobs whose status changed. Returns how many.

    A job is marked Failed only on evidence: a Failed condition, or its workload confirmed
    gone by GETs some seconds apart on an API server that is answering. A kind that cannot
    be listed, or a Karmada that does not answer, leaves every status as it was and says
    so on the job (and on the clusters page); it raises ClusterError when Karmada is down.
    """
    active = list(TrainingJob.objects.filter(status__in=ACTIVE_STATUSES).only(*_ACTIVE_FIELDS))
    if not active:
        return 0
    budget = _PassBudget(settings.JOB_SYNC_BUDGET)
    client = get_client()
    wanted_kinds = {job_workload_kind(job.framework, job.backend) for job in active}
    workloads: dict[str, dict] = {}
    unlisted: dict[str, str] = {}  # kind -> why it could not be listed
    try:
        for group, version, plural, kind in workload_kinds():
            if kind not in wanted_kinds:
                continue
            if budget.spent:
                unlisted[kind] = "the status pass ran out of time before reaching it"
                continue
            try:
                items = client.list(group, version, plural, label_selector=MANAGED_BY_SELECTOR)
            except ClusterError as exc:
                if exc.status != 404:
                    raise  # Karmada itself is in trouble: nothing this pass reads is sure
                unlisted[kind] = f"Karmada does not serve {kind} right now ({exc.message})"
                continue
            for item in items:
                job_id = (item.get("metadata", {}).get("labels") or {}).get("mlplatform.io/job-id")
                if job_id:
                    workloads[job_id] = item
        bindings = {
            (b["metadata"].get("namespace"), b["metadata"]["name"]): b
            for b in client.list_resource_bindings()
        }
    except ClusterError as exc:
        _mark_unknown(active, reason="KarmadaUnreachable", why=exc.message)
        if control_plane_report(reachable=False, message=exc.message):
            log.warning("status sync: Karmada is not answering: %s", exc.message)
        raise
    problem = "; ".join(f"{why}." for why in unlisted.values())
    if control_plane_report(reachable=True, message=problem):
        if problem:
            log.warning("status sync: %s", problem)
        else:
            log.warning("status sync: Karmada answers and serves every kind again")
    unready = unready_clusters()
    changed = 0
    checks_left = _MISSING_CHECKS_PER_PASS
    for job in active:
        seen: Observed | None
        kind = job_workload_kind(job.framework, job.backend)
        if kind in unlisted:
            seen = _unknown(job, reason="StatusUnknown", why=unlisted[kind])
        else:
            workload = workloads.get(str(job.id))
            if workload is None:
                if checks_left <= 0 or budget.spent:
                    continue  # confirmed on a later pass
                checks_left -= 1
                seen = _confirm_missing(client, job)
                if seen is None:
                    continue
            else:
                binding = bindings.get((job.namespace, karmada.binding_name(job.k8s_name, kind)))
                seen = observe(workload, binding)
            seen = _note_unready_cluster(job, seen, unready)
        if _apply_observed(job, seen):
            changed += 1
    if changed:
        log.info("status sync: %d of %d active jobs changed", changed, len(active))
    return changed


def _unknown(job: TrainingJob, *, reason: str, why: str) -> Observed:
    return Observed(
        status=job.status,
        reason=reason,
        message=f"{why}. The status shown is the last one read; it is not a job failure.",
        cluster=job.cluster,
    )


def _mark_unknown(jobs: list[TrainingJob], *, reason: str, why: str) -> None:
    """Say on every job that its status cannot be read right now (one UPDATE)."""
    ids = [job.id for job in jobs if job.status_reason != reason]
    if ids:
        TrainingJob.objects.filter(id__in=ids, status__in=ACTIVE_STATUSES).update(
            status_reason=reason,
            status_message=(
                f"Karmada does not answer ({why[:300]}). The status shown is the last one "
                "read; it is not a job failure."
            ),
            updated_at=timezone.now(),
        )


def _note_unready_cluster(job: TrainingJob, seen: Observed, unready: dict[str, str]) -> Observed:
    """A job on a member that Karmada cannot reach keeps its last status, and says why."""
    cluster = seen.cluster or job.cluster
    if cluster not in unready or seen.status in FINAL_STATUSES:
        return seen
    if seen.status != job.status:
        return seen  # news the member reported before it went away: record it
    why = unready[cluster] or "Karmada reports it not ready"
    return dataclasses.replace(
        seen,
        reason="ClusterUnreachable",
        message=f"Member cluster {cluster} is not reachable ({why}). The status shown is the "
        "last one it reported; it is not a job failure.",
    )


def _confirm_missing(client: KarmadaClient, job: TrainingJob) -> Observed | None:
    """The LIST did not show the job's workload. Ask for it by name: found means the LIST
    raced its creation; gone twice, ``JOB_MISSING_CONFIRM_SECONDS`` apart, is evidence."""
    workload_ref = ref_for(job.manifests[0]) if job.manifests else None
    if workload_ref is None:
        return None
    try:
        found = client.get(workload_ref)
    except ClusterError as exc:
        log.info("status sync: cannot confirm whether job %s's workload exists: %s", job.id, exc)
        return None
    now = timezone.now()
    if found is not None:
        if job.missing_since:
            TrainingJob.objects.filter(id=job.id).update(missing_since=None)
        return None
    if job.missing_since is None:
        TrainingJob.objects.filter(id=job.id, missing_since__isnull=True).update(missing_since=now)
        return None
    if (now - job.missing_since).total_seconds() < settings.JOB_MISSING_CONFIRM_SECONDS:
        return None
    first = timezone.localtime(job.missing_since)
    return Observed(
        status=JobStatus.FAILED,
        reason=MISSING_REASON,
        message=(
            f"The workload {workload_ref.kind} {job.namespace}/{job.k8s_name} is gone from "
            f"Karmada (not found at {first:%H:%M:%S} and again at "
            f"{timezone.localtime(now):%H:%M:%S %Z}); it was removed outside the platform."
        ),
    )


# --- sweeps -------------------------------------------------------------------------


def _stalled(cutoff: datetime) -> Q:
    """Work whose chain is presumed lost: nothing scheduled and untouched since ``cutoff``,
    or a scheduled attempt that is overdue by as long."""
    return Q(next_attempt_at__isnull=True, updated_at__lt=cutoff) | Q(next_attempt_at__lt=cutoff)


def job_pending_sweep(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Restart work that a lost message, a killed worker or a long outage left behind: jobs
    Pending or Deleting whose chain is overdue. Nothing a user submitted is lost, and a
    chain that is merely waiting out its backoff is left alone (one chain per job)."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.JOB_PENDING_RESUBMIT_AFTER))
    pending = list(
        TrainingJob.objects.filter(_stalled(cutoff), status=JobStatus.PENDING)
        .exclude(status_reason=INTERNAL_ERROR_REASON)
        .values_list("id", flat=True)[:200]
    )
    deleting = list(
        TrainingJob.objects.filter(_stalled(cutoff), status=JobStatus.DELETING)
        .exclude(status_reason__in=(DELETE_FAILED_REASON, INTERNAL_ERROR_REASON))
        .values_list("id", flat=True)[:200]
    )
    for job_id in pending:
        with transaction.atomic():
            _start_submit_chain(job_id)
    for job_id in deleting:
        # Touch it so the next sweep waits a full period before enqueueing it again.
        TrainingJob.objects.filter(id=job_id).update(updated_at=timezone.now())
        _enqueue_delete(job_id)
    return {"pending": len(pending), "deleting": len(deleting)}


def job_cleanup_sweep() -> dict[str, int]:
    """Remove from Karmada what must not stay there: finished jobs whose
    ``runPolicy.ttlSecondsAfterFinished`` has run out (the platform enforces the TTL itself:
    passed to the members, their operators delete the job and Karmada re-creates it from
    its Work, so it runs again, forever), and objects left behind by jobs that are Deleted
    or SubmitFailed (a delete that raced a submit, a cleanup Karmada could not take then).
    """
    now = timezone.now()
    expired = [
        job
        for job in TrainingJob.objects.filter(
            status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED),
            cleaned_up_at__isnull=True,
            run_policy__has_key="ttlSecondsAfterFinished",
            finished_at__isnull=False,
        ).only("id", "status", "manifests", "run_policy", "finished_at")[:200]
        if job.finished_at is not None
        and job.finished_at + timedelta(seconds=job.run_policy["ttlSecondsAfterFinished"]) <= now
    ]
    cleaned = 0
    for job in expired:
        if job.manifests and not _delete_objects(job):
            continue  # still going: the next sweep looks again
        if TrainingJob.objects.filter(id=job.id, cleaned_up_at__isnull=True).update(
            cleaned_up_at=timezone.now()
        ):
            ttl = job.run_policy["ttlSecondsAfterFinished"]
            # History, not a status change: the job stays Succeeded or Failed.
            JobEvent.objects.create(
                job_id=job.id,
                from_status=job.status,
                to_status=job.status,
                reason="CleanedUp",
                message=f"Removed from Karmada and its member cluster {ttl} s after it "
                "finished (runPolicy.ttlSecondsAfterFinished).",
            )
            cleaned += 1
    return {"expired": cleaned, "orphans": _delete_orphans()}


def _delete_orphans() -> int:
    """Delete the platform's objects on Karmada whose job says they must not exist."""
    client = get_client()
    found: list[dict] = []
    for group, version, plural, _kind in [
        *workload_kinds(),
        (
            karmada.POLICY_GROUP,
            karmada.POLICY_VERSION,
            karmada.plural(karmada.POLICY_KIND),
            karmada.POLICY_KIND,
        ),
    ]:
        try:
            found.extend(client.list(group, version, plural, label_selector=MANAGED_BY_SELECTOR))
        except ClusterError as exc:
            if exc.status != 404:
                raise
    by_job: dict[str, list[dict]] = {}
    for obj in found:
        job_id = (obj.get("metadata", {}).get("labels") or {}).get("mlplatform.io/job-id")
        if job_id:
            by_job.setdefault(job_id, []).append(obj)
    if not by_job:
        return 0
    gone = Q(status__in=(JobStatus.DELETED, JobStatus.SUBMIT_FAILED)) | Q(
        cleaned_up_at__isnull=False
    )
    valid_ids = []
    for job_id in by_job:
        try:
            valid_ids.append(uuid.UUID(job_id))
        except ValueError:
            continue
    rows = TrainingJob.objects.filter(gone, id__in=valid_ids).values_list("id", flat=True)
    orphaned = {str(i) for i in rows}
    deleted = 0
    for job_id in orphaned:
        for obj in by_job[job_id]:
            # Read the job again right before: a resubmit may have revived it meanwhile; and
            # delete only this very object (its uid), never one re-created under its name.
            if not TrainingJob.objects.filter(gone, id=job_id).exists():
                break
            client.delete(ref_for(obj), uid=obj["metadata"].get("uid"))
            deleted += 1
    if deleted:
        log.info("cleanup sweep: removed %d objects left behind by finished jobs", deleted)
    return deleted
