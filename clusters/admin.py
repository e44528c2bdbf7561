"""Member clusters as the inventory sync mirrors them from Karmada. Read-only: Karmada is the
source of truth, and the next sync would overwrite any edit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from clusters.models import MemberCluster


def _usage(allocated: float, allocatable: float) -> str:
    return f"{allocated:g} / {allocatable:g}"


@admin.register(MemberCluster)
class MemberClusterAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "ready",
        "present",
        "kubernetes_version",
        "node_count",
        "cpu",
        "memory_gib",
        "gpu",
        "last_synced_at",
    )
    list_filter = ("ready", "present", "sync_mode", "region")
    search_fields = ("name", "region", "zone", "api_endpoint")
    fieldsets = (
        (None, {"fields": ("name", "ready", "ready_message", "present", "last_synced_at")}),
        (
            "Cluster",
            {
                "fields": (
                    "kubernetes_version",
                    "sync_mode",
                    "api_endpoint",
                    "region",
                    "zone",
                    "node_count",
                    "node_summary",
                )
            },
        ),
        (
            "Resources",
            {
                "fields": (
                    ("cpu_allocated", "cpu_allocatable"),
                    ("memory_allocated_gib", "memory_allocatable_gib"),
                    ("gpu_allocated", "gpu_allocatable"),
                )
            },
        ),
    )

    readonly_fields = ("node_summary",)

    @admin.display(description="Nodes (schedulable, by shape)")
    def node_summary(self, obj: MemberCluster) -> str:
        return obj.node_summary or "not listed yet"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Every page is view-only.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only clusters Karmada no longer lists may be forgotten.
        if obj is None:
            return super().has_delete_permission(request)
        return not obj.present and super().has_delete_permission(request, obj)

    @admin.display(description="CPU (alloc / total)")
    def cpu(self, obj: MemberCluster) -> str:
        return _usage(obj.cpu_allocated, obj.cpu_allocatable)

    @admin.display(description="Memory GiB (alloc / total)")
    def memory_gib(self, obj: MemberCluster) -> str:
        return _usage(obj.memory_allocated_gib, obj.memory_allocatable_gib)

    @admin.display(description="GPU (alloc / total)")
    def gpu(self, obj: MemberCluster) -> str:
        return _usage(obj.gpu_allocated, obj.gpu_allocatable)
