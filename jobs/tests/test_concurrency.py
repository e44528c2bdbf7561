"""Compare-and-swap status changes raced for real: threads with their own PostgreSQL
connections, committed transactions (``transactional_db``), no mocks."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from jobs import services
from jobs.models import JobEvent, JobStatus, TrainingJob
from jobs.tests.factories import TrainingJobFactory
from testbed.polling import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target: Callable[[], object], results: list, errors: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target())
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _submitted_events(job: TrainingJob) -> int:
    return JobEvent.objects.filter(job=job, to_status=JobStatus.SUBMITTED).count()


def test_of_many_racing_transitions_exactly_one_wins():
    job = TrainingJobFactory()
    start = threading.Barrier(8)
    results: list = []
    errors: list = []

    def move() -> bool:
        start.wait(timeout=30)
        return services.job_transition(
            job_id=job.id, old=JobStatus.PENDING, new=JobStatus.SUBMITTED, reason="Submitted"
        )

    threads = [_in_thread(move, results, errors) for _ in range(8)]
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    job.refresh_from_db()
    assert job.status == JobStatus.SUBMITTED
    assert _submitted_events(job) == 1


def test_a_transition_waiting_on_the_row_sees_the_winners_commit_and_stands_back():
    job = TrainingJobFactory()
    locked = threading.Event()
    release = threading.Event()
    results: list = []
    errors: list = []

    def first() -> bool:
        # Wins the row, then holds its transaction open while the second one arrives.
        with transaction.atomic():
            won = services.job_transition(
                job_id=job.id, old=JobStatus.PENDING, new=JobStatus.DELETING, reason="Delete"
            )
            locked.set()
            release.wait(timeout=30)
        return won

    def second() -> bool:
        locked.wait(timeout=30)
        return services.job_transition(
            job_id=job.id, old=JobStatus.PENDING, new=JobStatus.SUBMITTED, reason="Submitted"
        )

    one = _in_thread(first, results, errors)
    locked.wait(timeout=30)
    two = _in_thread(second, results, errors)

    def second_waits_for_the_row_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0] >= 1

    try:
        wait_for(second_waits_for_the_row_lock, timeout=30, message="the second UPDATE blocks")
    finally:
        release.set()
        one.join(timeout=60)
        two.join(timeout=60)

    assert errors == []
    assert results == [True, False]  # first commits, then the waiting UPDATE matches 0 rows
    job.refresh_from_db()
    assert job.status == JobStatus.DELETING
    assert list(JobEvent.objects.filter(job=job).values_list("to_status", flat=True)) == [
        JobStatus.DELETING
    ]
    assert _submitted_events(job) == 0
