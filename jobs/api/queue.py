"""The queue and quotas part of the REST API: ``/api/v1/quotas`` (operators write, users
read their namespaces') and ``/api/v1/queue``. HTTP only: reads through
``jobs.selectors``, writes through ``jobs.queue``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from jobs import queue, selectors
from jobs.api.base import ApiView
from jobs.api.errors import ApiError
from jobs.api.serializers import JobOutputSerializer
from jobs.api.views import _errors
from jobs.namespaces import system_namespace_reason, system_namespace_rule
from jobs.roles import is_platform_operator
from jobs.specs import DNS1123_LABEL_RE, NAMESPACE_MAX


def _limit_field(name: str) -> serializers.Field:
    return serializers.FloatField(allow_null=True, help_text=f"{name}; null = unlimited.")


class ClusterLimitsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ClusterLimits"

    gpus = serializers.IntegerField(allow_null=True, help_text="null = unlimited.")
    cpuCores = _limit_field("CPU cores")
    memoryGiB = _limit_field("Memory in GiB")
    runningJobs = serializers.IntegerField(allow_null=True, help_text="null = unlimited.")


class QuotaSerializer(serializers.Serializer):
    """A namespace's quota. Every limit counts admitted jobs that have not finished, across
    every member cluster; ``clusters`` adds limits inside single clusters."""

    class Meta:
        ref_name = "Quota"

    namespace = serializers.CharField(read_only=True)
    gpus = serializers.IntegerField(
        allow_null=True, required=False, help_text="GPUs in all; null = unlimited."
    )
    cpuCores = serializers.FloatField(
        allow_null=True, required=False, help_text="CPU cores in all; null = unlimited."
    )
    memoryGiB = serializers.FloatField(
        allow_null=True, required=False, help_text="Memory in GiB; null = unlimited."
    )
    runningJobs = serializers.IntegerField(
        allow_null=True,
        required=False,
        help_text="Admitted, unfinished jobs at once; null = unlimited.",
    )
    priorities = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        required=False,
        help_text="Priorities the namespace may use; null = every one.",
    )
    clusters = serializers.DictField(
        child=ClusterLimitsSerializer(),
        allow_null=True,
        required=False,
        help_text="Per member cluster: the same limits inside that cluster; null = none.",
    )
    default = serializers.BooleanField(
        read_only=True, help_text="True: the namespace has no quota of its own (the defaults)."
    )


def _namespace(request: Request, namespace: str, *, write: bool = False) -> str:
    """The namespace in the URL, if the caller may see (and, to write, manage) its quota.
    Outsiders get 404, as for jobs; users who see it but are not operators get 403 to write."""
    if len(namespace) > NAMESPACE_MAX or not DNS1123_LABEL_RE.fullmatch(namespace):
        raise ApiError("Quota not found.", status_code=404)
    if not selectors.user_can_use_namespace(user=request.user, namespace=namespace):
        raise ApiError("Quota not found.", status_code=404)
    if write:
        if not is_platform_operator(request.user):
            raise ApiError("Only platform operators may change quotas.", status_code=403)
        pattern = system_namespace_rule(namespace)
        if pattern:
            raise ApiError(
                "This namespace cannot have a quota.",
                fields={
                    "namespace": [
                        system_namespace_reason(
                            namespace, pattern, refused="jobs may not run there."
                        )
                    ]
                },
            )
    return namespace


class QuotaListApi(ApiView):
    """Quotas of the namespaces you may see (operators: every namespace with a quota or
    active jobs), and the defaults for namespaces without one."""

    @extend_schema(
        operation_id="quotas_list",
        tags=["queue"],
        summary="Quotas per namespace",
        responses={
            200: inline_serializer(
                "QuotaList",
                {"defaults": QuotaSerializer(), "results": QuotaSerializer(many=True)},
            ),
            **_errors(401),
        },
    )
    def get(self, request: Request) -> Response:
        quotas = selectors.quota_list(user=request.user)
        return Response(
            {
                "defaults": queue.quota_json("*", queue.default_limits()),
                "results": [queue.quota_json(ns, limits) for ns, limits in quotas],
            }
        )


class QuotaDetailApi(ApiView):
    """One namespace's quota. PUT replaces it whole (an absent or null limit is unlimited)
    and re-evaluates the queue at once; DELETE returns the namespace to the defaults."""

    @extend_schema(
        operation_id="quotas_retrieve",
        tags=["queue"],
        summary="A namespace's quota",
        responses={200: QuotaSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, namespace: str) -> Response:
        ns = _namespace(request, namespace)
        return Response(queue.quota_json(ns, queue.namespace_limits(ns)))

    @extend_schema(
        operation_id="quotas_update",
        tags=["queue"],
        summary="Set a namespace's quota (operators)",
        request=QuotaSerializer,
        responses={200: QuotaSerializer, **_errors(400, 401, 403, 404, 415)},
    )
    def put(self, request: Request, namespace: str) -> Response:
        ns = _namespace(request, namespace, write=True)
        queue.quota_set(namespace=ns, values=queue.parse_quota(request.data))
        return Response(queue.quota_json(ns, queue.namespace_limits(ns)))

    @extend_schema(
        operation_id="quotas_destroy",
        tags=["queue"],
        summary="Remove a namespace's quota: the defaults apply (operators)",
        request=None,
        responses={204: None, **_errors(401, 403, 404)},
    )
    def delete(self, request: Request, namespace: str) -> Response:
        ns = _namespace(request, namespace, write=True)
        if not queue.quota_delete(namespace=ns):
            raise ApiError("This namespace has no quota of its own.", status_code=404)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UsageSerializer(serializers.Serializer):
    class Meta:
        ref_name = "QuotaUsage"

    gpus = serializers.FloatField()
    cpuCores = serializers.FloatField(source="cpu_cores")
    memoryGiB = serializers.FloatField(source="memory_gib")
    runningJobs = serializers.FloatField(source="running_jobs")


class QueueApi(ApiView):
    """Per namespace you may see: its quota, what its admitted, unfinished jobs use, and its
    waiting (Queued) jobs in the order they will be admitted."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "NamespaceQueue"

        namespace = serializers.CharField()
        quota = serializers.SerializerMethodField()
        usage = UsageSerializer()
        waiting = JobOutputSerializer(many=True)

        @extend_schema_field(QuotaSerializer)
        def get_quota(self, item: selectors.NamespaceQueue) -> dict[str, Any]:
            return queue.quota_json(item.namespace, item.limits)

    @extend_schema(
        operation_id="queue_list",
        tags=["queue"],
        summary="Usage against quota, and the waiting jobs in order",
        parameters=[
            OpenApiParameter("namespace", str, description="Only this namespace.", required=False)
        ],
        responses={
            200: inline_serializer(
                "Queue",
                {
                    "priorities": serializers.ListField(
                        child=serializers.CharField(), help_text="Highest first."
                    ),
                    "namespaces": OutputSerializer(many=True),
                },
            ),
            **_errors(401, 404),
        },
    )
    def get(self, request: Request) -> Response:
        namespace = request.query_params.get("namespace") or None
        if namespace is not None:
            namespace = _namespace(request, namespace)
        overview = selectors.queue_overview(user=request.user, namespace=namespace)
        return Response(
            {
                "priorities": list(settings.JOB_PRIORITIES),
                "namespaces": self.OutputSerializer(overview, many=True).data,
            }
        )
