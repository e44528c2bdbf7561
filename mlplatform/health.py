"""``/health``: the liveness and readiness probe of the platform as a whole."""

from __future__ import annotations

from django.db import connection
from django.db.utils import DatabaseError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.api.base import ApiView


class HealthApi(ApiView):
    """Liveness and readiness probe; the only endpoint that needs no credentials."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Probes come every few seconds from every node, all from the same few addresses.
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        tags=["health"],
        auth=[],
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            503: inline_serializer(
                "Unhealthy",
                {"status": serializers.CharField(), "database": serializers.CharField()},
            ),
        },
    )
    def get(self, request: Request) -> Response:
        try:
            # Cheap, and proves the connection works rather than that settings exist.
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return Response(
                {"status": "unhealthy", "database": "unreachable"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"status": "healthy"})
