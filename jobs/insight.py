"""Pure reading of a job's pods into what a user asks first: why does it wait, which replica
failed and how, and the per-replica table. No I/O: the pods come from ``jobs.selectors``
(one read of the member, by the insight pass or a page view), so every rule is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobs.models import FailureClass

if TYPE_CHECKING:
    from jobs.selectors import PodView

# Container waiting reasons that mean the image cannot be had (kubelet's words).
IMAGE_REASONS = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "RegistryUnavailable",
    }
)
# Waiting reasons of a pod that merely starts, not one that is stuck.
_STARTING = frozenset({"", "ContainerCreating", "PodInitializing"})
# Pod-level reasons the kubelet or the control plane leave on a pod they stopped.
_EVICTED = frozenset({"Evicted", "Preempting", "Preempted", "Terminated", "Shutdown"})
_NODE_LOST = frozenset({"NodeLost", "NodeAffinity", "UnexpectedAdmissionError"})


@dataclass(frozen=True)
class Waiting:
    layer: str  # karmada | member | image | partial (see jobs.models.WAITING_LAYERS)
    reason: str
    message: str
    since: datetime | None = None


@dataclass(frozen=True)
class Failure:
    failure_class: str
    summary: str


def replica_name(pod: PodView) -> str:
    """``worker-1``: how people name a replica (the pod name carries the job's name too)."""
    if not pod.replica_type:
        return pod.name
    if pod.replica_index is None:
        return pod.replica_type
    return f"{pod.replica_type}-{pod.replica_index}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def pod_row(pod: PodView) -> dict[str, Any]:
    """One row of the replica table, in the API's camelCase (stored as is on the job)."""
    # A pod-level reason (Evicted, DeadlineExceeded) says more than the container's
    # termination it caused (ContainerStatusUnknown, Error).
    reason = pod.pod_reason or pod.exit_reason
    message = pod.pod_message or pod.exit_message
    if pod.waiting_reason and not reason:
        reason, message = pod.waiting_reason, pod.waiting_message
    return {
        "name": pod.name,
        "type": pod.replica_type,
        "index": pod.replica_index,
        "phase": pod.phase,
        "ready": pod.ready,
        "restarts": pod.restarts,
        "exitCode": pod.exit_code,
        "reason": reason,
        "message": message,
        "waitingReason": pod.waiting_reason,
        "waitingMessage": pod.waiting_message,
        "image": pod.image,
        "node": pod.node,
        "startedAt": _iso(pod.started_at),
        "finishedAt": _iso(pod.finished_at),
    }


def replica_groups(pods: list[PodView]) -> list[dict[str, Any]]:
    """Per replica type (in the pods' order: coordinators first): counts by phase and the
    per-pod rows."""
    groups: dict[str, dict[str, Any]] = {}
    for pod in pods:
        group = groups.setdefault(pod.replica_type, _empty_group(pod.replica_type))
        group["total"] += 1
        phase = pod.phase.lower()
        if phase in ("pending", "running", "succeeded", "failed"):
            group[phase] += 1
        group["pods"].append(pod_row(pod))
    return list(groups.values())


def _empty_group(replica_type: str) -> dict[str, Any]:
    """A replica type's row in the replica table, before any pod is counted."""
    return {
        "type": replica_type,
        "total": 0,
        "pending": 0,
        "running": 0,
        "succeeded": 0,
        "failed": 0,
        "pods": [],
    }


REMOVED_PHASE = "Removed"
ENDED_PHASES = ("Succeeded", "Failed")


def still_active(groups: list[dict[str, Any]]) -> bool:
    """Whether a replica table counts pods pending or running (removed ones are not)."""
    return any(group.get("pending") or group.get("running") for group in groups)


def keep_removed(
    previous: list[dict[str, Any]], current: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``current`` plus the pods ``previous`` had that are gone now: one that had ended
    keeps its row as it was (its deletion is cleanup: a TTL, the job's own), one that had
    not is marked Removed (an operator deletes the replicas still running when a job ends,
    cleanPodPolicy), so the table still shows that they were there and how they ended."""
    seen = {pod["name"] for group in current for pod in group["pods"]}
    groups = {group["type"]: {**group, "pods": list(group["pods"])} for group in current}
    for group in previous:
        for pod in group.get("pods") or []:
            if pod.get("name") in seen:
                continue
            target = groups.setdefault(group["type"], _empty_group(group["type"]))
            if pod.get("phase") not in (REMOVED_PHASE, *ENDED_PHASES):
                pod = {
                    **pod,
                    "phase": REMOVED_PHASE,
                    "message": f"Removed while {str(pod.get('phase', '')).lower()} "
                    "(the operator deletes the replicas still running when a job ends).",
                }
            target["pods"].append(pod)
            target["total"] += 1
            if pod["phase"] in ENDED_PHASES:
                target[pod["phase"].lower()] += 1
    # The table's order as it was (coordinators first), then any type new in this read.
    order = dict.fromkeys([group["type"] for group in previous + current])
    return [groups[name] for name in order if name in groups]


def _first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def waiting_of(pods: list[PodView], *, cluster: str) -> Waiting | None:
    """Why the job's pods wait in the member, naming the pods; None when none is stuck.

    A pod only starting (ContainerCreating, a second after scheduling) is not a wait worth
    telling; one the scheduler refused, or whose image cannot be pulled, is."""
    pending = [p for p in pods if p.phase == "Pending"]
    if not pending:
        return None
    running = [p for p in pods if p.phase == "Running"]
    since = min((p.created_at for p in pending if p.created_at), default=None)
    image = [p for p in pending if p.waiting_reason in IMAGE_REASONS]
    unscheduled = [p for p in pending if p.waiting_reason == "Unschedulable"]
    names = ", ".join(replica_name(p) for p in (image or unscheduled or pending)[:5])
    count = len(image or unscheduled or pending)
    more = f" and {count - 5} more" if count > 5 else ""
    partial = f"{len(running)} of {len(pods)} pods run; " if running else ""
    if image:
        pod = image[0]
        return Waiting(
            layer="image",
            reason=pod.waiting_reason,
            message=f"{partial}{names}{more} on {cluster} cannot pull image {pod.image}: "
            f"{_first_line(pod.waiting_message) or pod.waiting_reason}",
            since=since,
        )
    if unscheduled:
        pod = unscheduled[0]
        return Waiting(
            layer="partial" if running else "member",
            reason="Unschedulable",
            message=f"{partial}{names}{more} Pending on {cluster}: "
            f"{_first_line(pod.waiting_message) or 'the scheduler found no node'}",
            since=since,
        )
    stuck = [p for p in pending if p.waiting_reason not in _STARTING]
    if not stuck:
        return None
    pod = stuck[0]
    return Waiting(
        layer="partial" if running else "member",
        reason=pod.waiting_reason,
        message=f"{partial}{names}{more} Pending on {cluster}: {pod.waiting_reason}"
        + (f": {_first_line(pod.waiting_message)}" if pod.waiting_message else ""),
        since=since,
    )


def _failed(pod: PodView) -> bool:
    return pod.phase == "Failed" or (pod.exit_code not in (None, 0))


def _restarts(pod: PodView) -> str:
    return (
        f" after {pod.restarts} restart{'s' if pod.restarts != 1 else ''}" if pod.restarts else ""
    )


def classify_pod(pod: PodView) -> str:
    reasons = {pod.exit_reason, pod.pod_reason}
    if "OOMKilled" in reasons:
        return FailureClass.OUT_OF_MEMORY
    if reasons & _EVICTED:
        return FailureClass.EVICTED
    if reasons & _NODE_LOST:
        return FailureClass.NODE_LOST
    if "DeadlineExceeded" in reasons:
        return FailureClass.DEADLINE
    if pod.waiting_reason in IMAGE_REASONS:
        return FailureClass.IMAGE
    if pod.waiting_reason == "Unschedulable":
        return FailureClass.SCHEDULING
    if pod.exit_code not in (None, 0):
        return FailureClass.EXIT_CODE
    return FailureClass.UNKNOWN


def describe_pod_failure(pod: PodView, failure_class: str) -> str:
    who = replica_name(pod)
    if failure_class == FailureClass.EVICTED:
        why = _first_line(pod.pod_message) or pod.pod_reason
        return f"{who} was evicted from {pod.node or 'its node'}{_restarts(pod)}" + (
            f": {why}" if why else ""
        )
    if failure_class == FailureClass.NODE_LOST:
        return f"{who} was lost with its node {pod.node or ''}".rstrip() + _restarts(pod)
    if failure_class == FailureClass.IMAGE:
        return f"{who} could not pull image {pod.image} ({pod.waiting_reason})"
    if failure_class == FailureClass.SCHEDULING:
        return f"{who} was never scheduled: {_first_line(pod.waiting_message)}"
    if failure_class == FailureClass.DEADLINE:
        return f"{who} ran past its deadline{_restarts(pod)}"
    if pod.exit_code is not None:
        reason = f" ({pod.exit_reason})" if pod.exit_reason else ""
        return f"{who} exited with code {pod.exit_code}{reason}{_restarts(pod)}"
    return f"{who} failed ({pod.pod_reason or pod.phase}){_restarts(pod)}"


def classify_status(reason: str, message: str) -> str:
    """The failure class the job's own Failed condition implies, before (or without) its
    pods: the operators name deadlines and backoff limits; everything else is Unknown
    until the pods say more."""
    text = f"{reason} {message}"
    if "DeadlineExceeded" in text or "activeDeadlineSeconds" in text or "deadline" in text:
        return FailureClass.DEADLINE
    if "OOMKilled" in text:
        return FailureClass.OUT_OF_MEMORY
    if "Evicted" in text:
        return FailureClass.EVICTED
    return FailureClass.UNKNOWN


def failure_of(pods: list[PodView], *, reason: str, message: str) -> Failure:
    """The first replica that failed (earliest termination) and how; without one, what the
    job's Failed condition says."""
    failed = [p for p in pods if _failed(p)]
    if not failed:
        stuck = [
            p
            for p in pods
            if p.phase == "Pending"
            and (p.waiting_reason in IMAGE_REASONS or p.waiting_reason == "Unschedulable")
        ]
        if stuck:
            # A job that failed while a pod could not start (a deadline ran out) failed
            # because of that pod.
            cls = classify_pod(stuck[0])
            return Failure(cls, describe_pod_failure(stuck[0], cls))
        summary = _first_line(message) or reason or "The job failed."
        return Failure(classify_status(reason, message), summary)
    # Stable: pods come sorted by replica order, so a tie names the coordinator.
    first = min(
        enumerate(failed),
        key=lambda item: (
            item[1].finished_at is None,
            item[1].finished_at or datetime.min,
            item[0],
        ),
    )[1]
    cls = classify_pod(first)
    if cls == FailureClass.UNKNOWN and classify_status(reason, message) == FailureClass.DEADLINE:
        cls = FailureClass.DEADLINE
    return Failure(cls, describe_pod_failure(first, cls))
