"""Operator views of jobs, their history and namespace grants.

A job's state only changes through ``jobs.services`` (the same path the API and the pages
take), so job fields are read-only here and the actions call the services. Plain row
deletion is withheld: it would orphan the job's objects on Karmada.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from jobs import queue, services
from jobs.exceptions import JobStateError, SpecError
from jobs.models import JobEvent, NamespaceGrant, NamespaceQuota, TrainingJob
from jobs.roles import is_platform_operator
from jobs.selectors import scope_to_user


def _pre(text: str) -> str:
    return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)


def _json(value: Any) -> str:
    return _pre(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False))


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "from_status", "to_status", "reason", "message", "cluster")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "namespace",
        "framework",
        "status",
        "cluster",
        "owner",
        "instance_count",
        "created_at",
    )
    list_filter = ("status", "framework", "namespace", "cluster", "algorithm_source")
    search_fields = ("name", "k8s_name", "namespace", "owner__username", "cluster", "=id")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    list_per_page = 50
    inlines = (JobEventInline,)
    actions = ("resubmit", "delete_on_karmada")
    fieldsets = (
        (None, {"fields": ("id", "name", "namespace", "owner", "k8s_name")}),
        (
            "Status",
            {
                "fields": (
                    "status",
                    "status_reason",
                    "status_message",
                    "priority",
                    "queue_position",
                    "cluster",
                    "submit_attempts",
                    "created_at",
                    "updated_at",
                    "submitted_at",
                    "started_at",
                    "finished_at",
                )
            },
        ),
        (
            "Algorithm",
            {
                "fields": (
                    "framework",
                    "algorithm_source",
                    "algorithm_name",
                    "image",
                    "command_display",
                )
            },
        ),
        (
            "Resources and placement",
            {
                "fields": (
                    "cpu_cores",
                    "memory_gib",
                    "gpu_count",
                    "instance_count",
                    "volume_size_gb",
                    "target_clusters_display",
                    "candidate_clusters_display",
                )
            },
        ),
        (
            "Specification",
            {
                "fields": (
                    "hyperparameters_display",
                    "run_policy_display",
                    "labels_display",
                )
            },
        ),
        ("Sent to Karmada", {"fields": ("manifests_display",), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrainingJob]:
        # The admin is no back door: staff see the namespaces granted to them, operators all.
        return scope_to_user(super().get_queryset(request), user=request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs are created through the form or the API, which validate the spec.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's actions need "change"; one job's page is view-only (no Save button that
        # could bypass the services).
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Purging the row is only safe once nothing of the job is left on Karmada.
        if obj is None:
            return super().has_delete_permission(request)
        return obj.status in ("Deleted", "SubmitFailed") and super().has_delete_permission(
            request, obj
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # The stock bulk delete would drop rows and leave their workloads running.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Command")
    def command_display(self, obj: TrainingJob) -> str:
        return _json(obj.command) if obj.command else "—"

    @admin.display(description="Target clusters")
    def target_clusters_display(self, obj: TrainingJob) -> str:
        return ", ".join(obj.target_clusters) or "any ready cluster"

    @admin.display(description="Candidate clusters")
    def candidate_clusters_display(self, obj: TrainingJob) -> str:
        return ", ".join(obj.candidate_clusters) or "—"

    @admin.display(description="Hyperparameters")
    def hyperparameters_display(self, obj: TrainingJob) -> str:
        return _json(obj.hyperparameters)

    @admin.display(description="Run policy")
    def run_policy_display(self, obj: TrainingJob) -> str:
        return _json(obj.run_policy) if obj.run_policy else "—"

    @admin.display(description="Labels")
    def labels_display(self, obj: TrainingJob) -> str:
        return _json(obj.labels) if obj.labels else "—"

    @admin.display(description="Manifests")
    def manifests_display(self, obj: TrainingJob) -> str:
        if not obj.manifests:
            return "—"
        return _pre(yaml.safe_dump_all(obj.manifests, sort_keys=False))

    def _run(
        self, request: HttpRequest, queryset: QuerySet[TrainingJob], service: Any, done: str
    ) -> None:
        ok = 0
        for job in queryset:
            try:
                service(job=job, user=request.user)
            except JobStateError as exc:
                self.message_user(request, f"Job {job}: {exc}", messages.ERROR)
            else:
                ok += 1
        if ok:
            noun = "job" if ok == 1 else "jobs"
            self.message_user(request, f"{ok} {noun} {done}.", messages.SUCCESS)

    @admin.action(description="Resubmit to Karmada", permissions=["change"])
    def resubmit(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        self._run(request, queryset, services.job_resubmit, "resubmitted")

    @admin.action(description="Delete on Karmada", permissions=["change"])
    def delete_on_karmada(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        self._run(request, queryset, services.job_delete, "being deleted from Karmada")


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "job", "from_status", "to_status", "reason", "cluster")
    list_filter = ("to_status", "reason", "cluster")
    search_fields = ("job__name", "job__k8s_name", "reason", "message", "=job__id")
    list_select_related = ("job",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "job",
        "created_at",
        "from_status",
        "to_status",
        "reason",
        "message",
        "cluster",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobEvent]:
        return scope_to_user(
            super().get_queryset(request), user=request.user, field="job__namespace"
        )

    # History is a record of what happened: nobody edits it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NamespaceQuotaForm(forms.ModelForm):
    """The same rules as PUT /api/v1/quotas/<namespace>: ``jobs.queue.parse_quota``."""

    class Meta:
        model = NamespaceQuota
        fields = (
            "namespace",
            "gpus",
            "cpu_cores",
            "memory_gib",
            "running_jobs",
            "priorities",
            "clusters",
        )
        help_texts = {
            "priorities": 'e.g. ["normal", "low"]; empty: every priority',
            "clusters": 'e.g. {"member-cluster-1": {"gpus": 4}}; keys gpus, cpuCores, '
            "memoryGiB, runningJobs; empty: no per-cluster limits",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}

        body = {
            "gpus": data.get("gpus"),
            "cpuCores": data.get("cpu_cores"),
            "memoryGiB": data.get("memory_gib"),
            "runningJobs": data.get("running_jobs"),
            "priorities": data.get("priorities"),
            "clusters": data.get("clusters"),
        }
        try:
            values = queue.parse_quota(body)
        except SpecError as exc:
            raise forms.ValidationError(
                [f"{path}: {' '.join(reasons)}" for path, reasons in exc.fields.items()]
            ) from exc
        data.update(values)
        return data


@admin.register(NamespaceQuota)
class NamespaceQuotaAdmin(admin.ModelAdmin):
    """Quotas per namespace. Saving or deleting one re-evaluates the queue at once."""

    form = NamespaceQuotaForm
    list_display = ("namespace", "gpus", "cpu_cores", "memory_gib", "running_jobs", "updated_at")
    search_fields = ("namespace",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[NamespaceQuota]:
        return scope_to_user(super().get_queryset(request), user=request.user)

    def save_model(
        self, request: HttpRequest, obj: NamespaceQuota, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        queue.queue_admit()

    def delete_model(self, request: HttpRequest, obj: NamespaceQuota) -> None:
        super().delete_model(request, obj)
        queue.queue_admit()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[NamespaceQuota]) -> None:
        super().delete_queryset(request, queryset)
        queue.queue_admit()


@admin.register(NamespaceGrant)
class NamespaceGrantAdmin(admin.ModelAdmin):
    list_display = ("namespace", "user", "group", "created_at")
    list_filter = ("namespace",)
    search_fields = ("namespace", "user__username", "group__name")
    autocomplete_fields = ("user", "group")
    list_select_related = ("user", "group")

    def get_queryset(self, request: HttpRequest) -> QuerySet[NamespaceGrant]:
        return scope_to_user(super().get_queryset(request), user=request.user)

    # Handing out namespaces is the operators' job: anyone else allowed to edit grants could
    # grant themselves any namespace. (NamespaceGrant.clean refuses system namespaces.)
    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform_operator(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_operator(request.user) and super().has_delete_permission(request, obj)


class UserGrantInline(admin.TabularInline):
    model = NamespaceGrant
    fk_name = "user"
    fields = ("namespace",)
    extra = 0
    verbose_name = "namespace grant"


class GroupGrantInline(admin.TabularInline):
    model = NamespaceGrant
    fk_name = "group"
    fields = ("namespace",)
    extra = 0
    verbose_name = "namespace grant"


User = get_user_model()


# The stock user and group admins, plus the namespaces each may use, edited in one place.
class PlatformUserAdmin(UserAdmin):
    inlines = (*UserAdmin.inlines, UserGrantInline)


class PlatformGroupAdmin(GroupAdmin):
    inlines = (*GroupAdmin.inlines, GroupGrantInline)


for model, model_admin in ((User, PlatformUserAdmin), (Group, PlatformGroupAdmin)):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
