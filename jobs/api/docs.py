"""OpenAPI schema and its interactive page, served from our own static files (no CDN)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from jobs.api.auth import TokenAuthentication
from jobs.api.routing import SchemaGenerator, View


class SchemaApi(SpectacularAPIView):
    """``/api/schema``: YAML by default, JSON with ``?format=json`` or ``Accept``.

    Needs credentials like the rest of the API."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    generator_class = SchemaGenerator

    def handle_exception(self, exc: Exception) -> Response:
        # Errors stay JSON in the one error shape even when the client asked for YAML.
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SwaggerDocsView(SpectacularSwaggerView):
    """Swagger UI; its assets are local (SWAGGER_UI_DIST = "SIDECAR" in settings)."""

    permission_classes = [IsAuthenticated]
    url_name = "api:schema"


def docs_view() -> View:
    # A page for people: without a session, go to the login page rather than a JSON 401
    # (DRF exempts its views from LoginRequiredMiddleware, so the page asks for it itself).
    view: Any = login_required(SwaggerDocsView.as_view())
    return view
