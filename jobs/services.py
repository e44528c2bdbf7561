"""Every write to a job: create, submit, delete, resubmit and status changes.

State changes that others may race (the web, the submit and delete tasks, the one-second
sync) are compare-and-swap updates on the status column: ``filter(status=old).update(...)``
returning 0 means someone else moved the job first, and the caller stands back. Slow I/O to
Karmada always happens outside transactions.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from clusters.client import ClusterError, ResourceRef, get_client, ref_for
from clusters.services import Demand, placement_candidates
from jobs.exceptions import JobStateError, SpecError
from jobs.frameworks import get_framework, workload_kinds
from jobs.manifests import (
    LAUNCHER_CPU_CORES,
    LAUNCHER_MEMORY_GIB,
    build_manifests,
    kubernetes_name,
)
from jobs.models import ACTIVE_STATUSES, FINAL_STATUSES, JobEvent, JobStatus, TrainingJob
from jobs.namespaces import system_namespace_reason, system_namespace_rule
from jobs.selectors import user_can_use_namespace
from jobs.specs import parse_job_request
from jobs.status import Observed, advances, implied_steps, observe

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


def job_create(*, user, data: Any) -> TrainingJob:
    """Validate a request (the API's camelCase body), store it, and submit it after commit."""
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
    if not user_can_use_namespace(user=user, namespace=spec.namespace):
        raise SpecError(
            {"namespace": [f"You have no access to namespace '{spec.namespace}'."]},
            message="You may not create jobs in this namespace.",
            status_code=403,
        )
    demand = Demand.of(
        cpu_cores=spec.cpu_cores,
        memory_gib=spec.memory_gib,
        gpu_count=spec.gpu_count,
        instances=spec.instance_count,
    )
    if get_framework(spec.framework).is_mpi:
        # MPI jobs also run a launcher pod beside their workers, in the same cluster.
        demand = demand + Demand(LAUNCHER_CPU_CORES, LAUNCHER_MEMORY_GIB, 0)
    candidates = placement_candidates(target_clusters=spec.target_clusters, demand=demand)
    job = TrainingJob(
        name=spec.name,
        namespace=spec.namespace,
        owner=user if user.is_authenticated else None,
        framework=spec.framework,
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
    job.k8s_name = kubernetes_name(spec.name, job.id)
    # The manifests are fixed at creation: every retry sends exactly what the page shows.
    job.manifests = build_manifests(job)
    with transaction.atomic():
        job.save(force_insert=True)
        _record(
            job.id,
            "",
            JobStatus.PENDING,
            reason="Created",
            message=f"Accepted; candidate clusters: {', '.join(candidates)}.",
        )
        transaction.on_commit(lambda: _enqueue_submit(job.id))
    return job


def _enqueue_submit(job_id: uuid.UUID) -> None:
    from jobs.tasks import job_submit_task

    try:
        job_submit_task.delay(job_id=str(job_id))
    except Exception:  # broker down: the pending sweep submits it later
        log.exception("could not enqueue submission of job %s; the sweep will retry", job_id)


def _enqueue_delete(job_id: uuid.UUID) -> None:
    from jobs.tasks import job_delete_task

    try:
        job_delete_task.delay(job_id=str(job_id))
    except Exception:
        log.exception("could not enqueue deletion of job %s; the sweep will retry", job_id)


# --- submit -------------------------------------------------------------------------


def job_submit(*, job_id: uuid.UUID | str) -> str:
    """Create the job's PropagationPolicy and workload on Karmada, idempotently.

    Raises ClusterError(permanent=False) for the task to retry; a permanent refusal marks
    the job SubmitFailed with the API server's words. Returns the job's status after.
    """
    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None or job.status != JobStatus.PENDING:
        return job.status if job else "missing"
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
            job_transition(
                job_id=job.id,
                old=JobStatus.PENDING,
                new=JobStatus.SUBMIT_FAILED,
                reason="KarmadaRejected",
                message=exc.message,
            )
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
    ):
        return JobStatus.SUBMITTED
    # Someone moved the job while we were creating: if it was a delete, make sure what we
    # just created does not outlive it.
    job.refresh_from_db(fields=["status"])
    if job.status in (JobStatus.DELETING, JobStatus.DELETED):
        _delete_objects(job)
    return job.status


def job_submit_gave_up(*, job_id: uuid.UUID | str, message: str) -> None:
    """Retries ran out on transient errors: the job stays Pending (the sweep tries again)
    and says why."""
    TrainingJob.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status_reason="KarmadaUnreachable",
        status_message=f"{message} — will try again automatically.",
        updated_at=timezone.now(),
    )


def job_resubmit(*, job: TrainingJob, user) -> TrainingJob:
    """Send a SubmitFailed (or stuck Pending) job to Karmada again."""
    if job.status == JobStatus.SUBMIT_FAILED:
        if not job_transition(
            job_id=job.id,
            old=JobStatus.SUBMIT_FAILED,
            new=JobStatus.PENDING,
            reason="Resubmitted",
            message=f"Resubmitted by {user}.",
        ):
            raise JobStateError("The job changed status meanwhile; reload and try again.")
    elif job.status != JobStatus.PENDING:
        raise JobStateError(
            f"Only Pending or SubmitFailed jobs can be resubmitted (it is {job.status})."
        )
    transaction.on_commit(lambda: _enqueue_submit(job.id))
    job.refresh_from_db()
    return job


# --- delete -------------------------------------------------------------------------


def job_delete(*, job: TrainingJob, user) -> TrainingJob:
    """Ask for the job's objects to be removed from Karmada; the job shows Deleting, then
    Deleted once they are gone."""
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(id=job.id)
        if locked.status in (JobStatus.DELETING, JobStatus.DELETED):
            raise JobStateError(f"The job is already {locked.status.lower()}.")
        old = locked.status
        job_transition(
            job_id=job.id,
            old=old,
            new=JobStatus.DELETING,
            reason="DeleteRequested",
            message=f"Deletion requested by {user}.",
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


def job_finish_delete(*, job_id: uuid.UUID | str) -> str:
    """Remove a Deleting job's objects; raises ClusterError while they still exist."""
    job = TrainingJob.objects.filter(id=job_id).first()
    if job is None or job.status != JobStatus.DELETING:
        return job.status if job else "missing"
    if job.manifests and not _delete_objects(job):
        raise ClusterError("The workload is still being removed from Karmada.", permanent=False)
    job_transition(
        job_id=job.id,
        old=JobStatus.DELETING,
        new=JobStatus.DELETED,
        reason="Deleted",
        message="Removed from Karmada and its member cluster.",
        finished_at=job.finished_at or timezone.now(),
    )
    return JobStatus.DELETED


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


def job_status_sync() -> int:
    """One pass of the status sync: one LIST per workload kind plus one of ResourceBindings,
    whatever the number of jobs; writes only jobs whose status changed. Returns how many."""
    active = list(
        TrainingJob.objects.filter(status__in=ACTIVE_STATUSES).only(
            "id",
            "framework",
            "status",
            "status_reason",
            "status_message",
            "cluster",
            "k8s_name",
            "namespace",
            "submitted_at",
            "started_at",
            "finished_at",
        )
    )
    if not active:
        return 0
    client = get_client()
    wanted_kinds = {get_framework(job.framework).kind for job in active}
    workloads: dict[str, dict] = {}
    for group, version, plural, kind in workload_kinds():
        if kind not in wanted_kinds:
            continue
        for item in client.list(
            group, version, plural, label_selector="app.kubernetes.io/managed-by=mlplatform"
        ):
            job_id = (item.get("metadata", {}).get("labels") or {}).get("mlplatform.io/job-id")
            if job_id:
                workloads[job_id] = item
    bindings = {
        (b["metadata"].get("namespace"), b["metadata"]["name"]): b
        for b in client.list_resource_bindings()
    }
    changed = 0
    for job in active:
        workload = workloads.get(str(job.id))
        if workload is None:
            seen = Observed(
                status=JobStatus.FAILED,
                reason="WorkloadMissing",
                message="The workload no longer exists on Karmada; it was removed "
                "outside the platform.",
            )
        else:
            kind = workload["kind"].lower()
            binding = bindings.get((job.namespace, f"{job.k8s_name}-{kind}"))
            seen = observe(workload, binding)
        if _apply_observed(job, seen):
            changed += 1
    return changed


def job_pending_sweep(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Re-enqueue work that a lost message or a long outage left behind: jobs Pending or
    Deleting for longer than ``older_than``. Nothing a user submitted is lost."""
    cutoff = timezone.now() - (older_than or timedelta(seconds=settings.JOB_PENDING_RESUBMIT_AFTER))
    pending = list(
        TrainingJob.objects.filter(status=JobStatus.PENDING, updated_at__lt=cutoff).values_list(
            "id", flat=True
        )[:200]
    )
    deleting = list(
        TrainingJob.objects.filter(status=JobStatus.DELETING, updated_at__lt=cutoff).values_list(
            "id", flat=True
        )[:200]
    )
    for job_id in pending:
        # Touch it so the next sweep waits a full period before enqueueing it again.
        TrainingJob.objects.filter(id=job_id).update(updated_at=timezone.now())
        _enqueue_submit(job_id)
    for job_id in deleting:
        TrainingJob.objects.filter(id=job_id).update(updated_at=timezone.now())
        _enqueue_delete(job_id)
    return {"pending": len(pending), "deleting": len(deleting)}
