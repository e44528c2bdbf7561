"""Django's PostgreSQL backend, reading timestamps with psycopg's C parser.

Django pins the time zone of every ``timestamptz`` it reads with a subclass of psycopg's
pure-Python loader, which parses each value with a regular expression. A page of 50 jobs
holds about 600 timestamps, and the status sync reads hundreds per pass: that parsing was
half of the client's CPU for a query. psycopg's C loader cannot be subclassed, so the
loader here wraps it and pins the zone the same way (``replace``, as Django's does; the
session runs in that zone). Without the C extension (psycopg's pure-Python build),
Django's own loader stays.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db.backends.postgresql import base as postgresql

try:
    from psycopg.adapt import Loader
    from psycopg_binary._psycopg import (  # type: ignore[attr-defined]  # no stub for it
        TimestamptzLoader as _CTimestamptzLoader,
    )
except ImportError:  # psycopg2, or psycopg without its binary build
    _CTimestamptzLoader = None


@lru_cache
def _fast_tzloader(tz: Any) -> type:
    class TimestamptzLoader(Loader):
        # Django compares this with the connection's zone before every cursor, and would
        # register its own loader again if they differed.
        timezone = tz

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._parse = _CTimestamptzLoader(oid, context).load

        def load(self, data: Any) -> Any:
            return self._parse(data).replace(tzinfo=tz)

    return TimestamptzLoader


class DatabaseWrapper(postgresql.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if _CTimestamptzLoader is not None:
            connection.adapters.register_loader("timestamptz", _fast_tzloader(self.timezone))
        return connection
