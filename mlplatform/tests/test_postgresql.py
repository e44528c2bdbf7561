"""The PostgreSQL backend reads timestamps with psycopg's C parser and gives back exactly
what Django's own loader does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.adapt import Transformer

from mlplatform.postgresql.base import _CTimestamptzLoader

pytestmark = pytest.mark.django_db

STAMPS = [
    "2026-12-02 06:45:11.123456+00",
    "2026-12-02 06:45:11+00",
    "1999-12-31 23:59:59.999999+00",
    "2026-03-29 02:30:00.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def test_the_backend_reads_timestamps_with_the_c_parser():
    assert connection.vendor == "postgresql"
    assert _CTimestamptzLoader is not None, "psycopg[binary] is in requirements.txt"
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert not issubclass(loader, BaseTzLoader)
    assert loader.timezone == connection.timezone


def test_what_it_reads_is_what_djangos_loader_reads():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v::timestamptz, v::timestamptz::text FROM unnest(%s::text[]) AS v", [STAMPS]
        )
        rows = cursor.fetchall()
    django_loader = type("Tz", (BaseTzLoader,), {"timezone": connection.timezone})
    reference = django_loader(1184, Transformer(connection.connection))
    for value, text in rows:
        expected = reference.load(text.encode())
        assert (value, value.tzinfo) == (expected, expected.tzinfo)
        assert value.tzinfo is connection.timezone
    assert rows[0][0] == datetime(2026, 12, 2, 6, 45, 11, 123456, tzinfo=UTC)
