"""The suite's closing flush survives a deadlock with a transaction of the running worker.

A real deadlock, made on purpose: another connection holds a share lock on one table, waits
until the flush's TRUNCATE blocks on it, then asks for a table the TRUNCATE already holds.
PostgreSQL aborts whichever of the two checks for the deadlock first (normally the flush,
which waited first); when that was the flush, it must try again and empty the tables.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection
from django.test import TransactionTestCase
from psycopg.errors import DeadlockDetected

from clusters.models import MemberCluster


class _Flush(TransactionTestCase):
    __test__ = False
    databases = {"default"}

    def runTest(self):
        pass


def _hold_and_cross(conninfo, last, first, flush_pid, holding, outcome):
    """Hold a share lock on the table the flush locks last; once the flush waits for it,
    read the table it locked first, and commit. That read returns only once PostgreSQL has
    aborted the flush, whose transaction held the table ("crossed"); "victim" when
    PostgreSQL aborted this read instead (this connection checked first, on a busy
    machine)."""
    try:
        with psycopg.connect(**conninfo) as other:
            other.execute(f'SELECT 1 FROM "{last}" LIMIT 1')
            holding.set()
            deadline = time.monotonic() + 30
            while not other.execute(
                "SELECT EXISTS (SELECT FROM pg_locks WHERE pid = %s AND NOT granted"
                " AND mode = 'AccessExclusiveLock' AND relation = %s::regclass)",
                [flush_pid, f'"{last}"'],
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the flush never waited for {last}")
                time.sleep(0.005)
            try:
                other.execute(f'SELECT 1 FROM "{first}" LIMIT 1')
            except DeadlockDetected:
                outcome.append("victim")
                return
            other.commit()
            outcome.append("crossed")
    except BaseException as exc:
        outcome.append(exc)


@pytest.mark.django_db(transaction=True)
def test_a_flush_chosen_as_deadlock_victim_tries_again():
    # The order the flush's TRUNCATE locks the tables in (a set's, fixed in this process).
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    settings = connection.settings_dict
    conninfo = {
        "host": settings["HOST"],
        "port": settings["PORT"] or 5432,
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "dbname": settings["NAME"],
    }
    outcomes: list[object] = []
    # A name of its own: the suite's worker, when an earlier test started it, mirrors the
    # testbed's clusters into the same table at any moment.
    name = "flush-test-cluster"
    for _ in range(5):
        MemberCluster.objects.create(name=name, ready=True)
        connection.ensure_connection()
        holding, outcome = threading.Event(), []
        other = threading.Thread(
            target=_hold_and_cross,
            args=(
                conninfo,
                tables[-1],
                tables[0],
                connection.connection.info.backend_pid,
                holding,
                outcome,
            ),
        )
        other.start()
        assert holding.wait(timeout=30), outcome
        _Flush()._fixture_teardown()
        other.join(timeout=60)
        assert len(outcome) == 1 and outcome[0] in ("crossed", "victim"), outcome
        assert not MemberCluster.objects.filter(name=name).exists()
        outcomes += outcome
        if outcome == ["crossed"]:
            break
    assert "crossed" in outcomes, f"the flush was never the deadlock's victim: {outcomes}"
