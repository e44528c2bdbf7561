from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from jobs.api.errors import ApiError


class JobPagination(PageNumberPagination):
    """``{"count", "next", "previous", "results"}`` with ``page`` and ``pageSize``.

    DRF silently falls back to the default for a bad ``pageSize`` and answers 404 for a
    non-numeric ``page``; a client that typed ``pageSize=1O0`` deserves to hear about it,
    so both are checked and refused with 400 naming the parameter.
    """

    page_size = 50
    page_query_param = "page"
    page_size_query_param = "pageSize"
    max_page_size = 500
    page_query_description = "Page number, from 1 (`last`: the last page)."
    page_size_query_description = "Jobs per page, 1 to 500 (default 50)."

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:
            return self.page_size
        return _positive_int(raw, self.page_size_query_param, maximum=self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        if not raw:
            return 1
        if raw in self.last_page_strings:
            return paginator.num_pages
        return _positive_int(raw, self.page_query_param)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            page = request.query_params.get(self.page_query_param)
            raise ApiError(
                f"Page {page} does not exist.",
                fields={self.page_query_param: ["This page is past the last one."]},
                status_code=404,
            ) from None


def _positive_int(raw: str, param: str, *, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" between 1 and {maximum}" if maximum is not None else " of at least 1"
        raise ApiError(
            f"Invalid query parameter {param!r}.",
            fields={param: [f"Must be a whole number{limit}."]},
        )
    return value
