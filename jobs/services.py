"""Every write to a job: create, submit, delete, resubmit and status changes.

State changes that others may race (the web, the submit and delete tasks, the one-second
sync) are compare-and-swap updates on the status column: ``filter(status=old).update(...)``
returning 0 means someone else moved the job first, and the caller stands back. Slow I/O to
Karmada always happens outside transactions.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
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
from clusters.models import MemberCluster
from clusters.services import (
    Demand,
    PlacementError,
    control_plane_report,
    known_clusters,
    placement_candidates,
    rank_candidates,
)
from jobs import queue, watch
from jobs.exceptions import JobStateError, SpecError
from jobs.frameworks import get_framework, job_workload_kind, workload_kinds
from jobs.insight import (
    Waiting,
    classify_status,
    failure_of,
    keep_removed,
    replica_groups,
    still_active,
    waiting_of,
)
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
    NamespaceQuota,
    TrainingJob,
)
from jobs.namespaces import system_namespace_reason, system_namespace_rule
from jobs.selectors import PodView, job_pods_of, user_can_use_namespace, visible_namespaces
from jobs.specs import (
    merge_request,
    parse_job_request,
    request_from_job,
    request_namespace,
)
from jobs.status import Observed, advances, implied_steps, observe
from mlplatform import metrics
from mlplatform.cache import CACHE_DOWN

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
            _after_transition(job_id, new, reason=reason[:200], message=message)
    return bool(changed)


def _after_transition(job_id: uuid.UUID, new: str, *, reason: str, message: str) -> None:
    """Side effects of a status change, enqueued once the change is committed: never run
    here, so a slow webhook endpoint or member cluster cannot delay the caller (the
    one-second sync among them)."""
    from jobs import archive
    from webhooks import services as webhook_services

    if new in archive.ARCHIVE_ON_STATUSES:
        transaction.on_commit(lambda: archive.enqueue_archive(job_id, reason="finished"))
    webhook_services.notify_on_commit(job_id=job_id, status=new, reason=reason, message=message)


# --- create -------------------------------------------------------------------------


# The request path each kind of placement refusal is about.
_PLACEMENT_PATHS = {"target_clusters": "targetClusters", "resources": "resources"}


def job_create(*, user: User | AnonymousUser, data: Any) -> TrainingJob:
    """Validate a request (the API's camelCase body), store it, and submit it after commit.

    A namespace the body names is checked first, on its own: someone without access to it
    learns nothing about the rest of the body and costs no more than reading it. Without
    one (the default namespace), the body's own problems come first."""
    given = request_namespace(data)
    # Read once: the namespace is checked before the body (an outsider learns nothing
    # about the rest) and again once the body is parsed (the default namespace).
    allowed = visible_namespaces(user=user)
    if given is not None:
        _require_namespace_access(user=user, namespace=given, allowed=allowed)
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
    _require_namespace_access(user=user, namespace=spec.namespace, allowed=allowed)
    demand = Demand.of(
        cpu_cores=spec.cpu_cores,
        memory_gib=spec.memory_gib,
        gpu_count=spec.gpu_count,
        instances=spec.instance_count,
    )
    if get_framework(spec.framework).is_mpi:
        # MPI jobs also run a launcher pod beside their workers, in the same cluster.
        demand = demand + Demand(LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB, 0)
    known = known_clusters()
    try:
        # Clusters that could hold the job once empty: none means it could never run and
        # is refused; room now is the queue's question, answered below.
        possible = placement_candidates(
            target_clusters=spec.target_clusters, demand=demand, empty=True, known=known
        )
    except PlacementError as exc:
        path = _PLACEMENT_PATHS[exc.field]
        if exc.message:
            raise SpecError({path: exc.reasons}, message=exc.message) from exc
        raise SpecError({path: exc.reasons}) from exc
    # Every quota, read once: the namespace's limits now, and the plan's when nothing makes
    # the create take the admission lock (a locked plan reads them again, under the lock).
    quotas = queue.all_quotas()
    limits = queue.limits_of(quotas.get(spec.namespace))
    _check_quota_allows(spec, limits)
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
        run_policy=dict(spec.run_policy),
        labels=dict(spec.labels),
        priority=spec.priority,
    )
    job.created_at = timezone.now()
    job.submit_token = uuid.uuid4()
    # Kubernetes names carry 8 hex digits of the id: two jobs of the same name can, rarely,
    # draw the same ones. The unique column is the referee, and a collision retries the
    # whole transaction with a fresh id (a savepoint around the insert would cost every
    # create two more round trips for what almost never happens).
    for attempt in range(3):
        job.k8s_name = kubernetes_name(job.name, job.id)
        try:
            with transaction.atomic():
                _admit_and_insert(job, limits, quotas, known, possible, demand)
        except IntegrityError:
            if attempt == 2 or not TrainingJob.objects.filter(k8s_name=job.k8s_name).exists():
                raise
            job.id = uuid.uuid4()
            continue
        break
    if job.status == JobStatus.PENDING:
        token = job.submit_token
        transaction.on_commit(lambda: _enqueue_submit(job.id, token))
    return job


def _admit_and_insert(
    job: TrainingJob,
    limits: queue.Limits,
    quotas: dict[str, NamespaceQuota],
    known: dict[str, MemberCluster],
    possible: list[str],
    demand: Demand,
) -> None:
    """Decide the new job's admission with everyone waiting, and store it; inside the
    create's transaction, so that a retry after a name collision decides afresh."""
    if limits.unlimited and not TrainingJob.objects.filter(status=JobStatus.QUEUED).exists():
        # Nothing to protect and nobody ahead: no quota can be exceeded, so the job is
        # decided alone, without the lock that would make a burst of creates wait for
        # each other (room on the clusters is a best-effort check either way: the
        # inventory trails Karmada by seconds).
        waiting = []
        state = queue.load_state(known, quotas=quotas)
    else:
        # The job's own admission is decided with everyone else's, under the same lock:
        # it goes straight on only if nothing ahead of it waits and quota and room allow.
        queue.lock_admission()
        waiting = list(
            TrainingJob.objects.filter(status=JobStatus.QUEUED)
            .only(*queue.QUEUED_FIELDS)
            .order_by("created_at")[: queue.MAX_QUEUE_SCAN]
        )
        state = queue.load_state(known)
    decisions = queue.plan([*waiting, job], state)
    mine = next(d for d in decisions if d.job is job)
    job.status_reason, job.status_message, job.queue_position = "", "", None
    if mine.admitted:
        job.status = JobStatus.PENDING
        job.candidate_clusters = mine.candidates
        note = f"Accepted; candidate clusters: {', '.join(mine.candidates)}."
        if not limits.unlimited:
            note += f" {mine.message}"
        reason = "Created"
    else:
        job.status = JobStatus.QUEUED
        # Shown while it waits; the admission sets the clusters that have room then.
        job.candidate_clusters = rank_candidates(
            possible, demand=demand, strategy=settings.PLACEMENT_STRATEGY, clusters=known
        )
        job.status_reason, job.status_message = mine.reason, mine.message
        job.queue_position = mine.position
        note = f"Accepted into the queue: {mine.message}"
        reason = "Queued"
    # The manifests are fixed at creation (or at admission, for a queued job): every retry
    # sends exactly what the page shows.
    job.manifests = _manifests(job)
    job.save(force_insert=True)
    _record(job.id, "", job.status, reason=reason, message=note)
    others = [d for d in decisions if d.job is not job]
    for decision in others:
        if decision.admitted:
            job_admit(
                job_id=decision.job.id, candidates=decision.candidates, message=decision.message
            )
    queue.write_waiting([d for d in others if not d.admitted])


def _check_quota_allows(spec: Any, limits: queue.Limits) -> None:
    """Refuse what the namespace's quota could never admit: a priority it may not use, or
    a job larger than the whole quota (it would wait for ever)."""
    fields: dict[str, list[str]] = {}
    if limits.priorities is not None and spec.priority not in limits.priorities:
        allowed = ", ".join(limits.priorities) or "none"
        fields["priority"] = [
            f"Namespace {spec.namespace} may not use priority '{spec.priority}' "
            f"(allowed: {allowed})."
        ]
    need = queue.Need(
        float(spec.gpu_count * spec.instance_count),
        spec.cpu_cores * spec.instance_count,
        spec.memory_gib * spec.instance_count,
    )
    for path, reason in queue.never_fits(spec.namespace, limits, need):
        fields.setdefault(path, []).append(reason)
    if fields:
        raise SpecError(fields, message="The job exceeds what its namespace's quota allows.")


def _manifests(job: TrainingJob) -> list[dict[str, Any]]:
    priority_class = None
    if settings.KARMADA_SCHEDULE_PRIORITY:
        priority_class = f"{settings.KARMADA_PRIORITY_CLASS_PREFIX}{job.priority}"
    return build_manifests(job, schedule_priority_class=priority_class)


def job_admit(*, job_id: uuid.UUID, candidates: list[str], message: str) -> bool:
    """Queued -> Pending, with the candidate clusters that have room now and manifests
    built for them; the submission starts after commit. False when the job was no longer
    Queued (deleted meanwhile). Called by the admission pass, which holds its lock."""
    job = TrainingJob.objects.filter(id=job_id, status=JobStatus.QUEUED).first()
    if job is None:
        return False
    job.candidate_clusters = list(candidates)
    token = uuid.uuid4()
    if not job_transition(
        job_id=job.id,
        old=JobStatus.QUEUED,
        new=JobStatus.PENDING,
        reason=queue.ADMITTED_REASON,
        message=f"{message} Candidate clusters: {', '.join(candidates)}.",
        candidate_clusters=job.candidate_clusters,
        manifests=_manifests(job),
        queue_position=None,
        submit_token=token,
        next_attempt_at=None,
    ):
        return False
    transaction.on_commit(lambda: _enqueue_submit(job.id, token))
    return True


def _require_namespace_access(
    *, user, namespace: str, allowed: set[str] | Literal[False] | None = False
) -> None:
    """403 unless ``user`` may use ``namespace``; ``allowed`` is the user's namespaces when
    the caller has read them already (``None``: all of them), saving the queries."""
    if allowed is False:
        ok = user_can_use_namespace(user=user, namespace=namespace)
    else:
        ok = allowed is None or namespace in allowed
    if not ok:
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


def _enqueue_insight(job_id: uuid.UUID) -> None:
    from jobs.tasks import job_insight_capture_task

    try:
        job_insight_capture_task.delay(job_id=str(job_id))
    except Exception:  # broker down: the insight pass captures it later
        log.exception("could not enqueue the pod insight of job %s; the insight pass will", job_id)


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
        # The policy first: Karmada's detector then binds the workload the moment it
        # appears, claimed for the policy from the start (clusters.karmada.claimed_by).
        created = client.create(policy)
        client.create(karmada.claimed_by(workload, created))
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
                queue.enqueue_admission()
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


def _start_submit_chain(job_id: uuid.UUID) -> bool:
    """Make a new chain the only one allowed to submit the job, then enqueue it. Only for
    a job still Pending: one submitted, deleted or failed since the caller looked keeps
    its token and gets no message. Returns whether a chain started."""
    token = uuid.uuid4()
    if not TrainingJob.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        submit_token=token, next_attempt_at=None, updated_at=timezone.now()
    ):
        return False
    transaction.on_commit(lambda: _enqueue_submit(job_id, token))
    return True


def job_resubmit(*, job: TrainingJob, user: User | AnonymousUser) -> TrainingJob:
    """Send a SubmitFailed (or waiting Pending) job to Karmada again, now.

    Idempotent: the new chain supersedes any chain still waiting to retry, so however often
    it is called, one chain submits the job.
    """
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(id=job.id)
        if (
            locked.status == JobStatus.SUBMIT_FAILED
            and not queue.namespace_limits(locked.namespace).unlimited
        ):
            # Back on Karmada would take quota again: it waits its turn like a new job.
            job_transition(
                job_id=job.id,
                old=JobStatus.SUBMIT_FAILED,
                new=JobStatus.QUEUED,
                reason="Resubmitted",
                message=f"Resubmitted by {user}; queued for admission.",
                finished_at=None,
            )
            transaction.on_commit(queue.queue_admit)
            job.refresh_from_db()
            return job
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
        if old == JobStatus.QUEUED:
            # Never reached Karmada: it leaves the queue and is gone; those behind move up.
            job_transition(
                job_id=job.id,
                old=old,
                new=JobStatus.DELETED,
                reason="RemovedFromQueue",
                message=f"Removed from the queue by {user}; it never reached Karmada.",
                queue_position=None,
                finished_at=timezone.now(),
            )
            queue.enqueue_admission()
            job.refresh_from_db()
            return job
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


def _archive_before_removal(job: TrainingJob) -> None:
    """Keep the pods' logs before their job's objects (and so the pods) go. Once per job:
    a job archived when it finished, or on an earlier attempt, is not read again. A member
    that does not answer does not hold the removal up: its logs are lost, and said so."""
    from jobs.archive import job_logs_archive

    if job.log_archives.exists():
        return
    try:
        job_logs_archive(job_id=job.id)
    except ClusterError as exc:
        log.warning("job %s: pod logs not archived before removal: %s", job.id, exc)
    except Exception:
        # A storage that refuses the file (full, read-only, unreachable bucket) must not
        # keep a job from being deleted: the removal goes on, the loss is logged.
        log.exception("job %s: pod logs not archived before removal", job.id)


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
    if job.manifests:
        _archive_before_removal(job)
    if job.manifests and not _delete_objects(job):
        raise ClusterError("The workload is still being removed from Karmada", permanent=False)
    if job_transition(
        job_id=job.id,
        old=JobStatus.DELETING,
        new=JobStatus.DELETED,
        reason="Deleted",
        message="Removed from Karmada and its member cluster.",
        finished_at=job.finished_at or timezone.now(),
        next_attempt_at=None,
    ):
        queue.enqueue_admission()  # its share of the quota is free again
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
    changed = _apply_observed(
        job, Observed(status=status, reason=reason, message=message, cluster=cluster)
    )
    if changed and job.status in FINAL_STATUSES:
        queue.enqueue_admission()
    return changed


def _apply_observed(job: TrainingJob, seen: Observed) -> bool:
    """Record ``seen`` (and the states it implies the job went through) if it is news.

    One UPDATE of the row, however many states the job went through since it was last
    seen, and one INSERT of their history; the UPDATE applies only if nobody moved the job
    meanwhile (then it changes nothing). Inside a caller's transaction (the sync writes a
    whole pass in one) it adds no savepoint of its own."""
    if not advances(job.status, seen, job.status_reason, job.status_message):
        return False
    old = job.status
    now = timezone.now()
    values: dict[str, Any] = {}
    passed: list[tuple[str, Observed, str]] = []  # (from, to, cluster) per status change
    for step in [*implied_steps(job.status, seen), seen]:
        fields = _observed_fields(job, step, now)
        cluster = step.cluster or job.cluster
        values |= fields | {
            "status": step.status,
            "status_reason": step.reason[:200],
            "status_message": step.message,
            "cluster": cluster,
        }
        if step.status != job.status:
            passed.append((job.status, step, cluster))
        # Keep the in-memory row in step for the next implied step.
        job.status, job.status_reason, job.status_message, job.cluster = (
            step.status,
            step.reason,
            step.message,
            cluster,
        )
        for name, value in fields.items():
            setattr(job, name, value)
    with transaction.atomic(savepoint=False):
        if not TrainingJob.objects.filter(id=job.id, status=old).update(**values, updated_at=now):
            return False  # someone else moved the job meanwhile: stand back
        JobEvent.objects.bulk_create(
            JobEvent(
                job_id=job.id,
                from_status=before,
                to_status=step.status,
                reason=step.reason[:200],
                message=step.message,
                cluster=cluster or "",
            )
            for before, step, cluster in passed
        )
        for _, step, _ in passed:
            _after_transition(job.id, step.status, reason=step.reason[:200], message=step.message)
            if step.changed_at:
                metrics.observe("status_lag_seconds", (now - step.changed_at).total_seconds())
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) and passed:
            # Read the pods once, now that they ended: the replica table and the failure
            # summary outlive them (and a TTL cleanup), and no page needs to ask the member.
            job_id = job.id
            transaction.on_commit(lambda: _enqueue_insight(job_id))
    return True


def _observed_fields(job: TrainingJob, seen: Observed, now: datetime) -> dict[str, Any]:
    """The columns besides the status that recording ``seen`` on ``job`` sets."""
    fields: dict[str, Any] = {}
    if not job.submitted_at:
        fields["submitted_at"] = now
    if seen.status in (JobStatus.RUNNING, JobStatus.RESTARTING) and not job.started_at:
        fields["started_at"] = seen.started_at or now
    if seen.status in FINAL_STATUSES:
        fields["finished_at"] = seen.finished_at or now
        fields.setdefault("started_at", job.started_at or seen.started_at)
    if job.missing_since and seen.reason != MISSING_REASON:
        fields["missing_since"] = None
    fields.update(_waiting_fields(job, seen))
    if seen.status == JobStatus.FAILED:
        # At once, from the job's own words, so the list filter finds it; the insight
        # capture that follows names the replica from its pods.
        fields["failure_class"] = classify_status(seen.reason, seen.message)
        fields["failure_summary"] = (
            (seen.message or seen.reason).strip().splitlines()[0][:500]
            if (seen.message or seen.reason)
            else "The job failed."
        )
    return fields


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
    "waiting_layer",
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
    """One pass of the status sync; writes only jobs whose status changed. Returns how many.

    It costs what changed, not how many jobs there are: every stream (the templates of each
    kind in use, the ResourceBindings, and each member's copies of the workloads) is watched
    from the version the last pass reached (jobs/watch.py), and only the jobs whose objects
    changed, whose rows changed, or that are suspected missing are looked at. Every job is
    looked at when a stream was listed whole (first pass, 410 Gone, and every
    JOB_SYNC_RESYNC_SECONDS), when a member's readiness changed, and when Karmada answers
    again after an outage.

    A job is marked Failed only on evidence: a Failed condition, or its workload confirmed
    gone by GETs some seconds apart on an API server that is answering. A kind that cannot
    be listed, or a Karmada that does not answer, leaves every status as it was and says
    so on the job (and on the clusters page); it raises ClusterError when Karmada is down.
    """
    active_q = TrainingJob.objects.filter(status__in=ACTIVE_STATUSES)
    frameworks = set(active_q.order_by().values_list("framework", "backend").distinct())
    if not frameworks:
        return 0
    budget = _PassBudget(settings.JOB_SYNC_BUDGET)
    client = get_client()
    cache = watch.observations(client)
    wanted = {job_workload_kind(fw, backend) for fw, backend in frameworks}
    kinds = [k for k in workload_kinds() if k[3] in wanted]
    fleet = list(MemberCluster.objects.values_list("name", "present", "ready", "ready_message"))
    members = [name for name, present, ready, _ in fleet if present and ready]
    unready = {name: why for name, _, ready, why in fleet if not ready}
    templates = {kind: watch.workload_stream(g, v, p, kind) for g, v, p, kind in kinds}
    bindings = watch.binding_stream()
    copies = {
        (member, kind): watch.workload_stream(g, v, p, kind, member)
        for g, v, p, kind in kinds
        for member in members
    }
    pass_started = time.time()
    try:
        with metrics.timed("status_sync_watch_seconds"):
            refresh = cache.refresh(
                [*templates.values(), bindings, *copies.values()],
                deadline=time.monotonic() + min(2.0, settings.JOB_SYNC_BUDGET),
            )
    except ClusterError as exc:
        _mark_unknown(active_q, reason="KarmadaUnreachable", why=exc.message)
        if control_plane_report(reachable=False, message=exc.message):
            log.warning("status sync: Karmada is not answering: %s", exc.message)
        raise
    unlisted = {
        kind: f"Karmada does not serve {kind} right now ({refresh.unlisted[stream.name]})"
        for kind, stream in templates.items()
        if stream.name in refresh.unlisted
    }
    problem = "; ".join(f"{why}." for why in unlisted.values())
    look_at_all = refresh.relisted or bool(unlisted)
    if control_plane_report(reachable=True, message=problem):
        look_at_all = True
        if problem:
            log.warning("status sync: %s", problem)
        else:
            log.warning("status sync: Karmada answers and serves every kind again")
    readiness = json.dumps(sorted(unready))
    if cache.remember("unready", readiness) != readiness:
        look_at_all = True
    last = cache.remember("pass_started", str(pass_started))

    jobs_q = active_q
    if not look_at_all and last:
        # Rows written since the last pass began (a submit, a resubmit, this sync's own
        # writes), with a second's slack for clocks and commit order.
        since = datetime.fromtimestamp(float(last) - 1.0, tz=UTC)
        names = {key.rsplit("/", 1)[-1] for key in refresh.changed}
        jobs_q = active_q.filter(
            Q(k8s_name__in=names) | Q(updated_at__gte=since) | Q(missing_since__isnull=False)
        )
    active = list(jobs_q.only(*_ACTIVE_FIELDS))
    keys = {job.id: _key(job) for job in active}
    wanted_keys = set(keys.values())
    template_objs: dict[str, dict] = {}
    for kind, stream in templates.items():
        template_objs |= cache.get(stream, (k for k in wanted_keys if f"/{kind}/" in k))
    binding_objs = cache.get(bindings, wanted_keys)
    member_objs: dict[str, dict[str, dict]] = {}  # key -> member -> object
    for (member, kind), stream in copies.items():
        if member in refresh.unread_members:
            continue
        for key, obj in cache.get(stream, (k for k in wanted_keys if f"/{kind}/" in k)).items():
            member_objs.setdefault(key, {})[member] = obj

    # First what each job looks like (the only requests: GETs of workloads the watch does
    # not show), then every change of the pass in one transaction, in the order of the
    # rows' ids: two statements per job that changed, not four per status it passed.
    observed: list[tuple[TrainingJob, Observed]] = []
    checks_left = _MISSING_CHECKS_PER_PASS
    grace_from = timezone.now() - timedelta(seconds=settings.JOB_MISSING_CONFIRM_SECONDS)
    for job in sorted(active, key=lambda j: j.id):
        seen: Observed | None
        kind = job_workload_kind(job.framework, job.backend)
        key = keys[job.id]
        if kind in unlisted:
            seen = _unknown(job, reason="StatusUnknown", why=unlisted[kind])
        else:
            workload = template_objs.get(key)
            if workload is None:
                if (
                    job.missing_since is None
                    and job.status_reason not in _UNREAD_REASONS
                    and job.submitted_at
                    and job.submitted_at > grace_from
                ):
                    continue  # just created: the watch shows it on a later pass, not a GET
                if checks_left <= 0 or budget.spent:
                    continue  # confirmed on a later pass
                checks_left -= 1
                seen = _confirm_missing(client, job)
                if seen is None:
                    continue
            else:
                binding = binding_objs.get(key)
                seen = observe(workload, binding, _member_copies(job, binding, member_objs))
            seen = _note_unready_cluster(job, seen, unready)
        observed.append((job, seen))

    from webhooks import services as webhook_services

    # One question to the webhooks table per pass, not one per job that changed.
    changed = ended = 0
    try:
        with webhook_services.listeners_read_once(), transaction.atomic():
            for job, seen in observed:
                if _apply_observed(job, seen):
                    changed += 1
                    ended += job.status in FINAL_STATUSES
    except Exception:
        # Nothing of this pass was written, but its watch events are spent: the next pass
        # looks at every job.
        cache.remember("pass_started", "")
        raise
    if ended:
        queue.enqueue_admission()  # their quota and room are free for the queue
    if changed:
        log.info("status sync: %d of %d jobs looked at changed", changed, len(active))
    return changed


def _key(job: TrainingJob) -> str:
    return watch.job_key(job.namespace, job_workload_kind(job.framework, job.backend), job.k8s_name)


def _member_copies(
    job: TrainingJob, binding: dict | None, copies: dict[str, dict[str, dict]]
) -> list[dict]:
    """The job's workload as the members it is placed on have it (their operators' own
    status, ahead of Karmada's aggregation): only members the binding names, and only
    the copy of this very job (a job re-created under the same name has another id)."""
    placed = {c.get("name") for c in ((binding or {}).get("spec") or {}).get("clusters") or []}
    found = copies.get(_key(job)) or {}
    return [
        obj
        for member, obj in sorted(found.items())
        if member in placed
        and ((obj.get("metadata") or {}).get("labels") or {}).get(watch.JOB_ID_LABEL) == str(job.id)
    ]


# Reasons that say a job's status could not be read (Karmada down, a kind not served). A
# job showing one is read at once when Karmada answers again, even when just submitted,
# rather than left to a watch that is still catching up after the outage.
_UNREAD_REASONS = frozenset({"KarmadaUnreachable", "StatusUnknown"})


def _unknown(job: TrainingJob, *, reason: str, why: str) -> Observed:
    return Observed(
        status=job.status,
        reason=reason,
        message=f"{why}. The status shown is the last one read; it is not a job failure.",
        cluster=job.cluster,
    )


def _mark_unknown(jobs: QuerySet[TrainingJob], *, reason: str, why: str) -> None:
    """Say on every job that its status cannot be read right now (one UPDATE)."""
    jobs.exclude(status_reason=reason).update(
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
    stalled = list(
        TrainingJob.objects.filter(_stalled(cutoff), status=JobStatus.PENDING)
        .exclude(status_reason=INTERNAL_ERROR_REASON)
        .order_by("updated_at")
        .values_list("id", "submit_token")[:200]
    )
    # Behind a burst, a submission can wait in the broker longer than the cutoff: it is
    # late, not lost. A new chain would supersede it and wait at the back of the queue, so
    # the job would be submitted later, after a second message. Only messages no longer in
    # the broker's queue (a worker died holding them, Redis lost them) start a new chain.
    queued = queued_submit_tokens() if stalled else set()
    pending = [job_id for job_id, token in stalled if str(token) not in queued]
    deleting = list(
        TrainingJob.objects.filter(_stalled(cutoff), status=JobStatus.DELETING)
        .exclude(status_reason__in=(DELETE_FAILED_REASON, INTERNAL_ERROR_REASON))
        .values_list("id", flat=True)[:200]
    )
    started = 0
    for job_id in pending:
        with transaction.atomic():
            started += _start_submit_chain(job_id)
    for job_id in deleting:
        # Touch it so the next sweep waits a full period before enqueueing it again.
        TrainingJob.objects.filter(id=job_id).update(updated_at=timezone.now())
        _enqueue_delete(job_id)
    queued_count = len(stalled) - len(pending)
    return {"pending": started, "deleting": len(deleting), "queued": queued_count}


def queued_submit_tokens() -> set[str]:
    """The chain tokens of the submissions waiting in the broker's queue: what a worker
    will still take. Messages a worker holds (reserved, running, or lost with it) are not
    in it. Empty when the broker is not Redis or cannot be read: then every stalled job is
    presumed lost, as a sweep that knows nothing must."""
    from jobs.tasks import job_submit_task

    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://")):
        return set()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
        try:
            pipe = client.pipeline(transaction=False)
            for name in broker_queue_lists():
                pipe.lrange(name, 0, -1)
            raw = [item for items in pipe.execute() for item in items]
        finally:
            client.close()
    except CACHE_DOWN as exc:
        log.warning("pending sweep: cannot read the broker's queue (%s)", exc)
        return set()
    tokens = set()
    for item in raw:
        try:
            message = json.loads(item)
            if message.get("headers", {}).get("task") != job_submit_task.name:
                continue
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            _args, kwargs, _embed = json.loads(body)
        except (ValueError, KeyError, TypeError):
            continue  # not a message this platform wrote
        if kwargs.get("token"):
            tokens.add(str(kwargs["token"]))
    return tokens


def broker_queue_lists() -> list[str]:
    """The Redis lists Celery's default queue is stored in: one per priority step, named
    as kombu's Redis transport names them (``celery``, ``celery:3``, ...)."""
    queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    sep = options.get("sep", "\x06\x16")
    steps = options.get("priority_steps", [0, 3, 6, 9])
    return [queue if step == 0 else f"{queue}{sep}{step}" for step in steps]


def job_cleanup_sweep(*, orphans: bool = True) -> dict[str, int]:
    """Remove from Karmada what must not stay there: finished jobs whose
    ``runPolicy.ttlSecondsAfterFinished`` has run out (the platform enforces the TTL itself:
    passed to the members, their operators delete the job and Karmada re-creates it from
    its Work, so it runs again, forever), and, with ``orphans``, objects left behind by jobs
    that are Deleted or SubmitFailed (a delete that raced a submit, a cleanup Karmada could
    not take then). Finding orphans lists every kind whole: beat asks for it less often.
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
        if job.manifests:
            _archive_before_removal(job)
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
    return {"expired": cleaned, "orphans": _delete_orphans() if orphans else 0}


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


# --- insight: why a job waits, how it failed -------------------------------------------


def _waiting_fields(job: TrainingJob, seen: Observed) -> dict[str, Any]:
    """The waiting columns a status write sets. The sync owns the Karmada layer (it reads
    the binding anyway); the insight pass owns the member layers. A new status clears every
    wait: the insight pass finds a wait in the member again within its interval."""
    if seen.status == job.status and not (seen.waiting_layer or job.waiting_layer == "karmada"):
        return {}
    if seen.waiting_layer:
        same = job.waiting_layer == seen.waiting_layer and job.status == seen.status
        fields: dict[str, Any] = {
            "waiting_layer": seen.waiting_layer,
            "waiting_reason": seen.waiting_reason[:200],
            "waiting_message": seen.waiting_message,
        }
        if not same:
            fields["waiting_since"] = seen.waiting_since or timezone.now()
        return fields
    return {"waiting_layer": "", "waiting_reason": "", "waiting_message": "", "waiting_since": None}


# Jobs the insight pass looks at, per member cluster and request (a label selector of ids).
_INSIGHT_IDS_PER_REQUEST = 50
# Statuses whose pods the insight pass reads: placed and not final.
_INSIGHT_STATUSES = (JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.RESTARTING)


def job_insight_apply(*, job: TrainingJob, pods: list[PodView]) -> bool:
    """Store what the job's pods say: the replica table, why it waits (member layers), and,
    for a Failed job, the first replica that failed and how. Writes only what changed;
    never touches the status. Returns True when something was written."""
    now = timezone.now()
    fields: dict[str, Any] = {"insight_at": now}
    groups = job.replica_status or []
    # No pods of a finished job: all removed or cleaned up (an unfinished one may not have
    # created them yet, or be re-creating them).
    if pods or (job.is_final and groups):
        groups = keep_removed(groups, replica_groups(pods))
        if groups != job.replica_status:
            fields["replica_status"] = groups
    unsettled = job.is_final and still_active(groups)
    if unsettled != job.replicas_unsettled:
        fields["replicas_unsettled"] = unsettled
    if job.status in _INSIGHT_STATUSES:
        waiting: Waiting | None = waiting_of(pods, cluster=job.cluster)
        if waiting is None:
            if job.waiting_layer and job.waiting_layer != "karmada":
                fields.update(
                    waiting_layer="", waiting_reason="", waiting_message="", waiting_since=None
                )
        elif (waiting.layer, waiting.reason, waiting.message) != (
            job.waiting_layer,
            job.waiting_reason,
            job.waiting_message,
        ):
            fields.update(
                waiting_layer=waiting.layer,
                waiting_reason=waiting.reason[:200],
                waiting_message=waiting.message,
            )
            if job.waiting_layer != waiting.layer or job.waiting_since is None:
                fields["waiting_since"] = waiting.since or now
    if job.status == JobStatus.FAILED and pods:
        failure = failure_of(pods, reason=job.status_reason, message=job.status_message)
        if (failure.failure_class, failure.summary) != (job.failure_class, job.failure_summary):
            fields["failure_class"] = failure.failure_class
            fields["failure_summary"] = failure.summary
    changed = len(fields) > 1
    unread_since_end = job.is_final and (
        job.insight_at is None or (job.finished_at is not None and job.insight_at < job.finished_at)
    )
    if not changed and job.insight_at is not None and not unread_since_end:
        return False  # nothing new: no write for a job whose pods look as before
    if changed:
        fields["updated_at"] = now  # what the pages' pollers compare
    # Only while the status is the one the pods were read for: a status write since wins.
    TrainingJob.objects.filter(id=job.id, status=job.status).update(**fields)
    return changed


def job_insight_capture(*, job_id: uuid.UUID | str) -> bool:
    """Read one job's pods once (on its transition to a final status) and store them.
    Raises ClusterError when the member cannot be read; the insight pass retries."""
    job = TrainingJob.objects.filter(id=job_id).first()
    if (
        job is None
        or not job.cluster
        or job.status not in (*_INSIGHT_STATUSES, JobStatus.SUCCEEDED, JobStatus.FAILED)
    ):
        return False
    pods = job_pods_of(cluster=job.cluster, jobs=[job]).get(str(job.id), [])
    return job_insight_apply(job=job, pods=pods)


def insight_candidates() -> QuerySet[TrainingJob]:
    """The jobs an insight pass reads the pods of, oldest first: every placed, unfinished
    job, and the recently finished ones whose pods were never read since they ended (a
    lost capture message) or were read while some still ran."""
    recent = timezone.now() - timedelta(seconds=settings.JOB_INSIGHT_RECENT_SECONDS)
    return (
        TrainingJob.objects.filter(
            Q(status__in=_INSIGHT_STATUSES)
            | (
                Q(status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED), finished_at__gte=recent)
                # Never read since it ended (read while it ran, at most), or read while
                # its operator had not yet removed the pods still running.
                & (
                    Q(insight_at__isnull=True)
                    | Q(insight_at__lt=F("finished_at"))
                    | Q(replicas_unsettled=True)
                )
            )
        )
        .exclude(cluster="")
        .order_by("created_at")
    )


def job_insight_sync() -> int:
    """One insight pass: the pods of the insight candidates, with one LIST per member
    cluster and 50 jobs, whatever the number of page views. Returns how many jobs changed."""
    jobs = list(insight_candidates()[: settings.JOB_INSIGHT_MAX_JOBS])
    by_cluster: dict[str, list[TrainingJob]] = {}
    for job in jobs:
        by_cluster.setdefault(job.cluster, []).append(job)
    changed = 0
    for cluster, members in by_cluster.items():
        for start in range(0, len(members), _INSIGHT_IDS_PER_REQUEST):
            chunk = members[start : start + _INSIGHT_IDS_PER_REQUEST]
            try:
                pods = job_pods_of(cluster=cluster, jobs=chunk)
            except ClusterError as exc:
                log.info("insight pass: cannot read the pods on %s: %s", cluster, exc)
                break
            for job in chunk:
                if job_insight_apply(job=job, pods=pods.get(str(job.id), [])):
                    changed += 1
    return changed


# --- run again, bulk ------------------------------------------------------------------


def job_clone(*, job: TrainingJob, user: User | AnonymousUser, changes: Any = None) -> TrainingJob:
    """Create a new job from ``job``'s request, with ``changes`` (a partial request body)
    laid over it, validated exactly like a create (``job_create``: the namespace must be
    one the user may use). Without a ``jobName`` in the changes the new job is named after
    the old one with a run number (``train`` → ``train-2``)."""
    if changes is not None and not isinstance(changes, dict):
        raise SpecError(
            {"body": ["Expected a JSON object of the fields to change."]},
            message="The request body must be a JSON object.",
        )
    from jobs.selectors import run_again_name

    base = request_from_job(job)
    base["jobName"] = run_again_name(job=job)
    return job_create(user=user, data=merge_request(base, changes or {}))


BULK_ACTIONS = ("delete", "resubmit")
# Ids one bulk request may name: each costs a few queries and, later, Karmada requests.
BULK_MAX_IDS = 100


def job_bulk(*, user: User | AnonymousUser, action: str, ids: list[str]) -> list[dict[str, str]]:
    """Delete or resubmit many jobs; one result per id, in the order given (duplicates
    once): ``done`` with the job's status after, ``refused`` with why (its status does not
    allow it), or ``notFound`` — which is also the answer for a job the user may not see."""
    from jobs.selectors import job_get

    if action not in BULK_ACTIONS:
        raise JobStateError(f"Unknown bulk action {action!r}.")
    results: list[dict[str, str]] = []
    for job_id in dict.fromkeys(str(i) for i in ids):
        try:
            job = job_get(user=user, job_id=job_id)
        except TrainingJob.DoesNotExist:
            results.append({"id": job_id, "result": "notFound", "message": "Job not found."})
            continue
        try:
            if action == "delete":
                job = job_delete(job=job, user=user)
                message = "Deletion requested."
            else:
                job = job_resubmit(job=job, user=user)
                message = "Resubmitted."
        except JobStateError as exc:
            results.append(
                {"id": job_id, "result": "refused", "message": str(exc), "status": job.status}
            )
            continue
        results.append({"id": job_id, "result": "done", "message": message, "status": job.status})
    return results
