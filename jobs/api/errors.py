"""One JSON error shape for the whole API, produced here and nowhere else:

    {"error": {"message": "...", "fields": {"resources.instanceResources.cpuCores": ["..."]}}}

``fields`` maps the request's dotted camelCase path (or a query parameter's name) to its
reasons, and is ``{}`` when the error is not about one field.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from clusters.client import ClusterError
from jobs.exceptions import JobStateError, SpecError

Fields = dict[str, list[str]]


class ApiError(exceptions.APIException):
    """An error the API raises itself, already in our terms (message + fields)."""

    # Any status, not just this default: raises pass their own (404, 413).
    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is invalid."

    def __init__(
        self, message: str | None = None, *, fields: Fields | None = None, status_code: int = 400
    ) -> None:
        super().__init__(message or self.default_detail)
        self.message = message or self.default_detail
        self.fields = fields or {}
        self.status_code = status_code


# The database refused or dropped the connection (a restart, a failover).
DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_DOWN_MESSAGE = "The platform's database is unavailable right now; try again shortly."


def error_body(message: str, fields: Fields | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER. Anything not recognised returns None: DRF re-raises it and
    Django answers 500 (through ``server_error`` below for /api/), with the traceback logged."""
    headers: dict[str, str] = {}
    if isinstance(exc, SpecError):
        # Bounded whatever the body held: a fixed number of paths and reasons, each short.
        code = exc.status_code
        message, fields = exc.bounded()
    elif isinstance(exc, JobStateError):
        code, message, fields = status.HTTP_409_CONFLICT, str(exc) or "Conflict.", {}
    elif isinstance(exc, ApiError):
        code, message, fields = exc.status_code, exc.message, exc.fields
    elif isinstance(exc, ClusterError):
        # Reads that go live to a member cluster (pods, logs): the request was fine, the
        # upstream was not. Transient → 503 so clients retry; a refusal (RBAC, a cluster that
        # left Karmada) → 502, which retrying will not fix.
        if exc.permanent:
            code = status.HTTP_502_BAD_GATEWAY
            message = f"Karmada refused to read from the job's cluster: {exc.message}"
        else:
            code = status.HTTP_503_SERVICE_UNAVAILABLE
            message = (
                f"Karmada or the job's cluster is unreachable; try again shortly. {exc.message}"
            )
            headers["Retry-After"] = "5"
        fields = {}
    elif isinstance(exc, DATABASE_DOWN):
        # Not a bug in the request or the platform: clients should retry, not report it.
        code, message, fields = status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_DOWN_MESSAGE, {}
        headers["Retry-After"] = "5"
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        code, message, fields = status.HTTP_404_NOT_FOUND, "Not found.", {}
    elif isinstance(exc, DjangoPermissionDenied):
        code, message, fields = status.HTTP_403_FORBIDDEN, _permission_message(exc), {}
    elif isinstance(exc, exceptions.ValidationError):
        code = exc.status_code
        message, fields = _from_validation_detail(exc.detail)
    elif isinstance(exc, exceptions.APIException):
        code = exc.status_code
        # str() is what the body below makes of it anyway.
        message = _text(exc.detail) or str(exc.default_detail)
        fields = {}
        if isinstance(exc, exceptions.ParseError):
            # DRF's own wording ("JSON parse error - Expecting value: line 1 column 1") is
            # precise but does not say what to fix.
            message = f"The request body is not valid JSON ({message})."
        # DRF's handle_exception puts the scheme on auth errors; keep it so 401 stays a 401.
        # Only some subclasses carry these (NotAuthenticated/AuthenticationFailed, Throttled).
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
    else:
        return None

    set_rollback()
    return Response(error_body(str(message), fields), status=code, headers=headers)


def _permission_message(exc: DjangoPermissionDenied) -> str:
    return str(exc) or "You do not have permission to perform this action."


def _text(detail: Any) -> str:
    if isinstance(detail, (list, tuple)):
        return " ".join(_text(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(_text(d) for d in detail.values())
    return str(detail)


def _from_validation_detail(detail: Any) -> tuple[str, Fields]:
    """Flatten DRF's nested error detail into dotted paths; non-field errors become the
    message."""
    fields: Fields = {}
    general: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                if key in ("non_field_errors", "__all__"):
                    walk(sub, path)
                else:
                    walk(sub, f"{path}.{key}" if path else str(key))
        elif isinstance(value, (list, tuple)):
            if all(not isinstance(v, (dict, list, tuple)) for v in value):
                for item in value:
                    (fields.setdefault(path, []) if path else general).append(str(item))
            else:
                # A list of per-item errors (ListField children): index each item.
                for index, sub in enumerate(value):
                    if sub:
                        walk(sub, f"{path}.{index}" if path else str(index))
        else:
            (fields.setdefault(path, []) if path else general).append(str(value))

    walk(detail, "")
    message = " ".join(general) if general else "The request is invalid."
    return message, fields


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: unknown /api/ URLs answer in the API's shape; pages keep Django's page."""
    if _wants_json(request):
        return JsonResponse(error_body("Not found."), status=404)
    from django.views.defaults import page_not_found as default

    return default(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: even a bug answers /api/ clients in the API's shape; a database that is
    down (seen outside the API views too: sessions, the login check) answers 503."""
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        response: HttpResponse
        if _wants_json(request):
            response = JsonResponse(error_body(DATABASE_DOWN_MESSAGE), status=503)
        else:
            response = HttpResponse(
                f"<!doctype html><title>Unavailable</title><h1>Unavailable</h1>"
                f"<p>{DATABASE_DOWN_MESSAGE}</p>",
                status=503,
            )
        response["Retry-After"] = "5"
        return response
    if _wants_json(request):
        return JsonResponse(error_body("Internal server error."), status=500)
    from django.views.defaults import server_error as default

    return default(request)
