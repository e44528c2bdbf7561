"""The base every API view builds on: JSON in, JSON out, and a parser that refuses what the
database could not store, so no request body can turn into a 500."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from jobs.api.auth import TokenAuthentication
from jobs.api.errors import ApiError

# Beyond 64 bits no field we store can hold it; PostgreSQL would raise instead of refusing.
_INT_LIMIT = 2**63 - 1


class StrictJSONParser(JSONParser):
    """DRF's JSONParser, plus limits it leaves to the caller.

    DRF reads the stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never applies;
    deep nesting raises RecursionError (not ValueError) inside ``json``; and JSON happily
    carries NUL characters, unpaired surrogates and ``1e999`` (infinity), which PostgreSQL
    refuses with an exception at save time.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise ApiError(f"The request body is larger than {limit} bytes.", status_code=413)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("nested too deeply") from None
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        _check_storable(data)
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_storable(data: Any) -> None:
    # Iterative: the document may be as deep as json's own recursion allowed.
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _unstorable("a number is too large to represent")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_LIMIT:
            raise _unstorable("an integer does not fit in 64 bits")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise _unstorable("strings may not contain the NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _unstorable("a string contains an unpaired surrogate escape") from None


def _unstorable(reason: str) -> ApiError:
    return ApiError(f"The request body contains a value that cannot be stored: {reason}.")


class ApiView(APIView):
    """JSON only: a form or multipart body answers 415 (it would skip the checks above), and
    there is no browsable-API HTML (the OpenAPI docs page serves that purpose)."""

    # Token first: without credentials the answer is 401 with `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]

    # DRF throttles only after authentication and the permission check succeeded, so neither
    # requests without credentials nor wrong tokens would ever be counted. Here both count
    # against the anonymous rate (per client address), and answer 429 once over it.
    def perform_authentication(self, request: Any) -> None:
        try:
            request.user  # noqa: B018 - authenticates
        except AuthenticationFailed:
            # DRF has made the request anonymous; guessing tokens is throttled like it.
            self.check_throttles(request)
            raise

    def check_permissions(self, request: Any) -> None:
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request: Any) -> None:
        # Called up to three times per request (above, and by DRF): count it once.
        if getattr(request, "_throttles_checked", False):
            return
        request._throttles_checked = True
        super().check_throttles(request)
