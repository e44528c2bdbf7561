"""Pure mapping from what Karmada reports (the job template's aggregated status and its
ResourceBinding) to the platform's status. No I/O, so every rule is unit-tested."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from jobs.models import FINAL_STATUSES, JobStatus

# A sync may read a state older than one it already wrote (aggregation lags, a binding is
# re-created); statuses only move forward, except Running <-> Restarting.
_RANK: dict[str, int] = {
    JobStatus.SUBMITTED: 1,
    JobStatus.SCHEDULED: 2,
    JobStatus.RUNNING: 3,
    JobStatus.RESTARTING: 3,
    JobStatus.SUCCEEDED: 4,
    JobStatus.FAILED: 4,
}

_CONDITION_STATUS = {
    "Succeeded": JobStatus.SUCCEEDED,
    "Failed": JobStatus.FAILED,
    "Restarting": JobStatus.RESTARTING,
    "Running": JobStatus.RUNNING,
}


@dataclass(frozen=True)
class Observed:
    status: str
    reason: str = ""
    message: str = ""
    cluster: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # When the member's workload reached this state (its condition's lastTransitionTime).
    changed_at: datetime | None = None
    # Why it waits, when Karmada's objects say so (layer "karmada": not placed).
    waiting_layer: str = ""
    waiting_reason: str = ""
    waiting_message: str = ""
    waiting_since: datetime | None = None


def _status_blocks(
    workload: dict[str, Any], binding: dict[str, Any] | None, copies: list[dict[str, Any]]
) -> list[dict]:
    """The job's status as the member's own copy of the workload carries it, when it has
    any: that is what its operator wrote, and Karmada copies it onto the template only
    later (seconds to minutes under load). Otherwise as the template carries it, then as
    each member reported it to Karmada.

    Karmada's built-in interpreter for some kinds (TFJob) aggregates only final conditions
    into the template; the binding's ``aggregatedStatus[].status`` holds the member's full
    status, so Running is read from there when the template lacks it.
    """
    own = [c["status"] for c in copies if (c.get("status") or {}).get("conditions")]
    if own:
        return own
    blocks = [workload.get("status") or {}]
    for item in ((binding or {}).get("status") or {}).get("aggregatedStatus") or []:
        if isinstance(item.get("status"), dict):
            blocks.append(item["status"])
    return blocks


def _true_conditions(blocks: list[dict]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for block in blocks:
        for cond in block.get("conditions") or []:
            if cond.get("status") == "True":
                found.setdefault(cond.get("type"), cond)
    return found


def _first_time(blocks: list[dict], key: str) -> datetime | None:
    for block in blocks:
        if block.get(key):
            return parse_datetime(block[key])
    return None


def _binding_cluster(binding: dict[str, Any] | None) -> str:
    clusters = ((binding or {}).get("spec") or {}).get("clusters") or []
    return clusters[0].get("name", "") if clusters else ""


def _binding_condition(binding: dict[str, Any] | None, kind: str) -> dict | None:
    for cond in ((binding or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def _apply_problem(binding: dict[str, Any] | None) -> str:
    for item in ((binding or {}).get("status") or {}).get("aggregatedStatus") or []:
        if item.get("applied") is False and item.get("appliedMessage"):
            return f"{item.get('clusterName')}: {item['appliedMessage']}"
    return ""


# TrainJob (Kubeflow Trainer v2) conditions: final ones only. Running is derived from the
# per-replicated-job counts in status.jobsStatus.
_TRAINJOB_FINAL = {"Complete": JobStatus.SUCCEEDED, "Failed": JobStatus.FAILED}


def _cond_time(cond: dict) -> datetime | None:
    raw = cond.get("lastTransitionTime")
    return parse_datetime(raw) if raw else None


def _observe_trainjob(
    workload: dict[str, Any], binding: dict[str, Any] | None, copies: list[dict[str, Any]]
) -> Observed | None:
    """A TrainJob's state from its conditions (Complete, Failed) or, before those, from
    ``jobsStatus``: some pod active, ready or done means the job runs. None when neither
    says anything yet (the binding decides: Scheduled or Submitted)."""
    blocks = _status_blocks(workload, binding, copies)
    cluster = _binding_cluster(binding)
    true = _true_conditions(blocks)
    for kind, status in _TRAINJOB_FINAL.items():
        if kind in true:
            cond = true[kind]
            return Observed(
                status=status,
                reason=cond.get("reason", "") or kind,
                message=cond.get("message", "") or "",
                cluster=cluster,
                finished_at=_cond_time(cond),
                changed_at=_cond_time(cond),
            )
    if "Suspended" in true:
        return None
    for block in blocks:
        counts = block.get("jobsStatus") or []
        busy = [
            j.get("name", "")
            for j in counts
            if any((j.get(k) or 0) > 0 for k in ("active", "ready", "succeeded", "failed"))
        ]
        if busy:
            return Observed(
                status=JobStatus.RUNNING,
                reason="Running",
                message=f"Trainer reports pods of {', '.join(sorted(busy))} (jobsStatus).",
                cluster=cluster,
            )
    return None


def observe(
    workload: dict[str, Any],
    binding: dict[str, Any] | None,
    copies: list[dict[str, Any]] | None = None,
) -> Observed:
    """What the platform status of a job should be, given its objects on Karmada and the
    copies of its workload on the members it is placed on."""
    if workload.get("kind") == "TrainJob":
        seen = _observe_trainjob(workload, binding, copies or [])
        if seen is not None:
            return seen
        return _observe_binding(binding)
    blocks = _status_blocks(workload, binding, copies or [])
    cluster = _binding_cluster(binding)
    started = _first_time(blocks, "startTime")
    finished = _first_time(blocks, "completionTime")
    true = _true_conditions(blocks)
    for kind in ("Succeeded", "Failed", "Restarting", "Running"):
        if kind in true:
            cond = true[kind]
            return Observed(
                status=_CONDITION_STATUS[kind],
                reason=cond.get("reason", "") or kind,
                message=cond.get("message", "") or "",
                cluster=cluster,
                started_at=started,
                finished_at=finished,
                changed_at=parse_datetime(cond.get("lastTransitionTime") or "")
                if cond.get("lastTransitionTime")
                else None,
            )
    return _observe_binding(binding)


def _observe_binding(binding: dict[str, Any] | None) -> Observed:
    """Before the workload reports anything: Scheduled or Submitted, from the binding."""
    cluster = _binding_cluster(binding)
    scheduled = _binding_condition(binding, "Scheduled")
    if scheduled and scheduled.get("status") == "True" and cluster:
        problem = _apply_problem(binding)
        return Observed(
            status=JobStatus.SCHEDULED,
            reason="ApplyFailed" if problem else scheduled.get("reason", "") or "Scheduled",
            message=problem or f"Karmada placed the job on {cluster}.",
            cluster=cluster,
        )
    if scheduled and scheduled.get("status") == "False":
        # Not schedulable (yet): stays Submitted, but the user sees the scheduler's words.
        reason = scheduled.get("reason", "") or "Unschedulable"
        message = scheduled.get("message", "") or ""
        return Observed(
            status=JobStatus.SUBMITTED,
            reason=reason,
            message=message,
            waiting_layer="karmada",
            waiting_reason=reason,
            waiting_message=message or "Karmada's scheduler found no cluster for the job.",
            waiting_since=parse_datetime(scheduled.get("lastTransitionTime") or "")
            if scheduled.get("lastTransitionTime")
            else None,
        )
    return Observed(status=JobStatus.SUBMITTED)


def advances(current: str, observed: Observed, current_reason: str, current_message: str) -> bool:
    """True when ``observed`` should be written over ``current``."""
    if current in FINAL_STATUSES:
        return False
    old, new = _RANK.get(current, 0), _RANK.get(observed.status, 0)
    if new < old:
        return False
    if new > old or observed.status != current:
        return True
    # Same status: refresh only when Karmada's explanation changed (e.g. unschedulable).
    return (observed.reason, observed.message) != (current_reason, current_message)


def implied_steps(current: str, observed: Observed) -> list[Observed]:
    """States the job must have passed through between two syncs, to record before
    ``observed`` so that every job's history reads the same way however fast it ran: a job
    seen Running on a cluster was Scheduled there first, and a job seen Succeeded ran."""
    steps: list[Observed] = []
    rank = _RANK.get(current, 0)
    target = _RANK.get(observed.status, 0)
    if rank < _RANK[JobStatus.SCHEDULED] < target and observed.cluster:
        steps.append(
            Observed(
                status=JobStatus.SCHEDULED,
                reason="Scheduled",
                message=f"Karmada placed the job on {observed.cluster}.",
                cluster=observed.cluster,
            )
        )
    if rank < _RANK[JobStatus.RUNNING] and observed.status == JobStatus.SUCCEEDED:
        steps.append(
            Observed(
                status=JobStatus.RUNNING,
                reason="Running",
                message="The job ran and finished between two status checks.",
                cluster=observed.cluster,
                started_at=observed.started_at,
            )
        )
    return steps
