"""The clusters part of the REST API: the member-cluster inventory, read-only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters.selectors import cluster_list


class ClusterListApi(APIView):
    """Member clusters as last synced from Karmada: readiness and free resources, the
    choices for `targetClusters`."""

    # JSON only; authentication, permissions and the error shape are the API's defaults.
    renderer_classes = [JSONRenderer]

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        ready = serializers.BooleanField()
        readyMessage = serializers.CharField(source="ready_message")
        kubernetesVersion = serializers.CharField(source="kubernetes_version")
        region = serializers.CharField()
        zone = serializers.CharField()
        nodeCount = serializers.IntegerField(source="node_count")
        nodes = serializers.ListField(
            source="node_shapes",
            child=serializers.DictField(),
            allow_null=True,
            help_text="Schedulable nodes grouped by allocatable shape ({cpu, memoryGiB, gpu, "
            "count}): one instance must fit on one node. null until the nodes were listed.",
        )
        cpuAllocatable = serializers.FloatField(source="cpu_allocatable")
        cpuAllocated = serializers.FloatField(source="cpu_allocated")
        cpuFree = serializers.FloatField(source="cpu_free")
        memoryAllocatableGiB = serializers.FloatField(source="memory_allocatable_gib")
        memoryAllocatedGiB = serializers.FloatField(source="memory_allocated_gib")
        memoryFreeGiB = serializers.FloatField(source="memory_free_gib")
        gpuAllocatable = serializers.FloatField(source="gpu_allocatable")
        gpuAllocated = serializers.FloatField(source="gpu_allocated")
        gpuFree = serializers.FloatField(source="gpu_free")
        lastSyncedAt = serializers.DateTimeField(source="last_synced_at", allow_null=True)

        class Meta:
            ref_name = "MemberCluster"

    @extend_schema(
        operation_id="clusters_list",
        tags=["clusters"],
        summary="Member clusters and their free resources",
        responses={
            200: OutputSerializer(many=True),
            # The one error shape, documented (and produced) by the API as a whole.
            401: OpenApiResponse(
                {"$ref": "#/components/schemas/Error"}, "No or invalid credentials."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        # A handful of rows: no pagination, so a client gets every placement choice at once.
        return Response(self.OutputSerializer(cluster_list(), many=True).data)
