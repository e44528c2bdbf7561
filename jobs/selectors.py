"""Reads for pages and the API, always scoped to what the user may see."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from jobs.models import JobEvent, NamespaceGrant, TrainingJob

User = AbstractBaseUser | AnonymousUser

ORDERING_FIELDS = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "jobName": "name",
    "status": "status",
    "namespace": "namespace",
    "framework": "framework",
}


def visible_namespaces(*, user: User) -> set[str] | None:
    """Namespaces the user may see; ``None`` means all of them (staff)."""
    if not user.is_authenticated:
        return set()
    if user.is_staff or user.is_superuser:
        return None
    grants = NamespaceGrant.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
    return set(grants.values_list("namespace", flat=True))


def user_can_use_namespace(*, user: User, namespace: str) -> bool:
    allowed = visible_namespaces(user=user)
    return allowed is None or namespace in allowed


def _scoped(user: User) -> QuerySet[TrainingJob]:
    allowed = visible_namespaces(user=user)
    qs = TrainingJob.objects.all()
    if allowed is not None:
        qs = qs.filter(namespace__in=allowed)
    return qs


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


def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]
