"""One URL, one view per operation.

The REST contract puts several operations on one URL (GET and POST /api/v1/jobs, GET and
DELETE /api/v1/jobs/<id>), while each operation keeps its own view class with its own
serializers. ``by_method`` sends each method to its view; the schema enumerator below
documents each one as its own operation (a preprocessing hook, drf-spectacular's
documented extension point, swaps in the operation's own view).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from drf_spectacular.generators import EndpointEnumerator as SpectacularEndpointEnumerator
from drf_spectacular.generators import SchemaGenerator as SpectacularSchemaGenerator
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api.base import ApiView

View = Callable[..., HttpResponse]


def by_method(**views: type[APIView]) -> View:
    """A view that hands ``GET`` to ``views["get"]``, ``POST`` to ``views["post"]``, ….

    Other methods (and OPTIONS) go to a view that knows the URL's full method list, so the
    ``Allow`` header and the 405 are right, and they still authenticate first (401 before
    405, as for any other view).
    """
    methods = sorted(m.upper() for m in views)
    if "GET" in methods:
        methods.append("HEAD")
    handlers = {m.upper(): _with_allow(cls, methods).as_view() for m, cls in views.items()}
    if "GET" in handlers:
        handlers.setdefault("HEAD", handlers["GET"])
    other = _other_methods_view(methods)

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return handlers.get(request.method or "", other)(request, *args, **kwargs)

    # DRF's SessionAuthentication does its own CSRF check; Django's middleware must not.
    view.csrf_exempt = True  # type: ignore[attr-defined]
    # Each operation view authenticates and answers 401 itself: no login redirect.
    view.login_required = False  # type: ignore[attr-defined]
    view.operation_views = views  # type: ignore[attr-defined]
    return view


def _with_allow(cls: type[APIView], methods: list[str]) -> type[APIView]:
    """The view, answering with the URL's ``Allow`` header rather than its own method."""
    allowed = property(lambda self: [*methods, "OPTIONS"])
    return type(cls.__name__, (cls,), {"allowed_methods": allowed, "__doc__": cls.__doc__})


def _other_methods_view(methods: list[str]) -> View:
    class OtherMethodsApi(ApiView):
        @property
        def allowed_methods(self) -> list[str]:
            return [*methods, "OPTIONS"]

        def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
            return Response(status=204)

    return OtherMethodsApi.as_view()


def route(pattern: str, view: View, name: str) -> list[URLPattern]:
    """The original API has no trailing slashes; accept one anyway (no redirect, which a
    POST or DELETE would not survive). The slashed twin is left out of the schema."""
    return [path(pattern, view, name=name), path(f"{pattern}/", view)]


class EndpointEnumerator(SpectacularEndpointEnumerator):
    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        if path.endswith("/") and path != "/":
            return False
        if hasattr(callback, "operation_views"):
            return True
        return super().should_include_endpoint(path, callback)

    def get_allowed_methods(self, callback: Any) -> list[str]:
        if hasattr(callback, "operation_views"):
            return [m.upper() for m in callback.operation_views]
        return super().get_allowed_methods(callback)


def split_operation_views(endpoints: list[tuple]) -> list[tuple]:
    """drf-spectacular preprocessing hook (PREPROCESSING_HOOKS): each method of a
    ``by_method`` URL is documented by its own view class, with its own serializers."""
    split = []
    for path_, regex, method, callback in endpoints:
        views = getattr(callback, "operation_views", None)
        if views:
            callback = views[method.lower()].as_view()
        split.append((path_, regex, method, callback))
    return split


class SchemaGenerator(SpectacularSchemaGenerator):
    """Documents every operation view behind ``by_method`` (set as the schema view's
    generator, and as DEFAULT_GENERATOR_CLASS for ``manage.py spectacular``)."""

    endpoint_inspector_cls = EndpointEnumerator
