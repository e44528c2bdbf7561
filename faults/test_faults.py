"""Faults injected into the running platform, one per test.

Each test creates a small burst of one-instance XGBoost jobs through the API, injects its
fault (a signal to a process the suite started, or a service it owns stopped), always
undoes the fault in a ``finally``, and then asserts what must hold on a bad day:

- every job the API accepted (201) ends Succeeded, and none was ever shown Failed or
  SubmitFailed (neither by the tracker's once-a-second reads nor in its history);
- exactly one workload per job on Karmada, exactly one across the members, one
  PropagationPolicy — the job ran once;
- after DELETE through the API, nothing of it is left on Karmada or on any member.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import requests

from faults.conftest import Stack
from faults.harness import (
    WRONG,
    Tracked,
    Tracker,
    dump,
    job_body,
    unique_name,
    wait_until,
)

BURST = int(os.environ.get("FAULTS_BURST", "6"))
# Pods run TESTBED_POD_RUN_SECONDS (20 s here) once scheduled; a recovery that needs the
# pending sweep (30 s cutoff, 15 s period) and then the run fits well inside this.
SETTLE = 300


def _create(stack: Stack, tracker: Tracker, prefix: str, n: int = BURST) -> list[Tracked]:
    jobs = []
    for i in range(n):
        started = time.monotonic()
        try:
            response = stack.api.create(job_body(unique_name(f"{prefix}{i}")))
        except requests.RequestException as exc:
            raise AssertionError(
                f"POST /api/v1/jobs got no answer ({time.monotonic() - started:.0f}s): {exc}"
            ) from exc
        took = time.monotonic() - started
        assert response.status_code == 201, (
            f"POST /api/v1/jobs answered {response.status_code} after {took:.1f}s: "
            f"{response.text[:2000]}"
        )
        jobs.append(tracker.add(response.json()))
    return jobs


def _fail_fast_on_wrong_status(tracker: Tracker) -> None:
    wrong = tracker.wrongly_failed()
    assert not wrong, (
        f"{len(wrong)} job(s) shown {'/'.join(sorted(WRONG))} although their workloads "
        f"never failed\n{tracker.report()}"
    )


def _wait_status(tracker: Tracker, jobs: list[Tracked], wanted: set[str], what: str) -> None:
    # The tracker's thread reads the jobs once a second; reading them here as well would
    # double the suite's request rate against the API's per-user throttle.
    def reached() -> bool:
        _fail_fast_on_wrong_status(tracker)
        return all(j.status in wanted for j in jobs)

    wait_until(reached, timeout=SETTLE, interval=1, message=what, detail=tracker.report)


def _expect_ran_once_and_clean_up(stack: Stack, tracker: Tracker, jobs: list[Tracked]) -> None:
    """The shared end of every fault test: Succeeded, run once, nothing left after delete."""
    _expect_succeeded_once(stack, tracker, jobs)
    _delete_and_expect_nothing_left(stack, tracker, jobs)


def _expect_succeeded_once(stack: Stack, tracker: Tracker, jobs: list[Tracked]) -> None:
    _wait_status(tracker, jobs, {"Succeeded"}, f"all {len(jobs)} jobs Succeeded")
    _fail_fast_on_wrong_status(tracker)
    # What the platform showed through the fault (pytest -rP prints it for passed tests).
    print(tracker.report())
    for job in jobs:
        detail = stack.api.job(job.id)
        history = [e["to"] for e in detail["events"]]
        assert not set(history) & WRONG, f"{job.name} history {history}\n{tracker.report()}"

    placement = stack.clusters.placement([j.id for j in jobs])
    policies = stack.clusters.policies()
    problems = []
    for job in jobs:
        where = placement[job.id]
        on_members = {c: n for c, n in where.items() if c != "karmada"}
        if where.get("karmada") != 1:
            problems.append(f"{job.name}: {where.get('karmada', 0)} workloads on Karmada")
        if sum(on_members.values()) != 1:
            problems.append(f"{job.name}: workloads on members {on_members or 'none'}")
        elif list(on_members) != [job.last["cluster"]]:
            problems.append(f"{job.name}: runs on {on_members}, the API says {job.last['cluster']}")
        if policies.get(job.id) != 1:
            problems.append(f"{job.name}: {policies.get(job.id, 0)} PropagationPolicies")
    assert not problems, "not exactly one workload per job:\n" + "\n".join(problems)


def _delete_and_expect_nothing_left(stack: Stack, tracker: Tracker, jobs: list[Tracked]) -> None:
    for job in jobs:
        response = stack.api.delete(job.id)
        assert response.status_code == 202, f"DELETE {job.name}: {response.status_code}"
    _wait_status(tracker, jobs, {"Deleted"}, f"all {len(jobs)} jobs Deleted")
    wait_until(
        lambda: not stack.clusters.leftovers(jobs),
        timeout=120,
        interval=2,
        message="nothing of the deleted jobs left on Karmada or the members",
        detail=lambda: "\n".join(stack.clusters.leftovers(jobs)),
    )


def _wait_running(tracker: Tracker, jobs: list[Tracked], before: str) -> None:
    """Every job started (a quick one may have finished already), and some still run."""
    _wait_status(tracker, jobs, {"Running", "Succeeded"}, f"every job started before {before}")
    assert tracker.in_status("Running"), f"no job still running when {before}\n{tracker.report()}"


def _hold(seconds: float, since: float) -> None:
    """Keep a fault in place until ``seconds`` after ``since`` (the fault's duration is
    the one fixed wait these tests have: it is the point)."""
    time.sleep(max(0.0, seconds - (time.monotonic() - since)))


# --- (a) Karmada's API server hung -----------------------------------------------------


def test_karmada_apiserver_hung_while_jobs_are_created(stack: Stack, tracker: Tracker):
    hang = 45.0
    pid = stack.testbed.pid("karmada-apiserver")
    os.kill(pid, signal.SIGSTOP)
    try:
        since = time.monotonic()
        jobs = _create(stack, tracker, "hung")
        # Let every job meet the hung server at least once before looking at what it says.
        _hold(hang, since)
        during = {j.id: stack.api.job(j.id) for j in jobs}
    finally:
        os.kill(pid, signal.SIGCONT)
    _fail_fast_on_wrong_status(tracker)
    # Every job has met the hung server by now: it must say it waits for Karmada, and when
    # it tries again.
    silent = [
        f"{j.name}: {shown['status']} reason={shown['statusReason']!r} "
        f"message={shown['statusMessage'][:200]!r} nextAttemptAt={shown.get('nextAttemptAt')}"
        for j in jobs
        if not (
            (shown := during[j.id])["statusReason"]
            and "karmada" in shown["statusMessage"].lower()
            and shown.get("nextAttemptAt")
        )
    ]
    assert not silent, (
        "jobs waiting on a hung Karmada must say why they wait and when they try again:\n"
        + "\n".join(silent)
        + f"\n{tracker.report()}"
    )
    _expect_ran_once_and_clean_up(stack, tracker, jobs)


# --- (b) the worker killed ---------------------------------------------------------------


def test_worker_killed_right_after_a_burst_of_creates(stack: Stack, tracker: Tracker):
    worker = stack.platform.worker
    jobs = []
    try:
        jobs = _create(stack, tracker, "kill", n=BURST + 2)
        worker.kill()  # SIGKILL to the worker and its pool, as an OOM kill would
    finally:
        if not worker.running():
            stack.platform.start_worker()
    _expect_ran_once_and_clean_up(stack, tracker, jobs)


# --- (c) Redis down ------------------------------------------------------------------


def test_redis_down_while_jobs_are_created(stack: Stack, tracker: Tracker):
    down = 20.0
    jobs = []
    stack.redis.stop()
    try:
        since = time.monotonic()
        # The API must still accept jobs: they are stored, and submitted once the broker
        # is back (the pending sweep re-enqueues what could not be enqueued).
        jobs = _create(stack, tracker, "redis")
        _hold(down, since)
    finally:
        stack.redis.start()
    _expect_ran_once_and_clean_up(stack, tracker, jobs)


# --- (d) PostgreSQL restarted --------------------------------------------------------


def test_postgres_restarted_while_jobs_run(stack: Stack, tracker: Tracker):
    down = 15.0
    jobs = _create(stack, tracker, "pg")
    _wait_running(tracker, jobs, "PostgreSQL stops")
    stack.postgres.stop("fast")  # ends every connection, as a failover or an upgrade does
    answers = []
    try:
        since = time.monotonic()
        # What a client reading its job meets meanwhile; the poll paces itself by the
        # answers, the outage's length is the fixed part.
        while time.monotonic() - since < down:
            answers.append(stack.api.probe(f"/api/v1/jobs/{jobs[0].id}"))
            time.sleep(1)
    finally:
        stack.postgres.start()
    # An outage, not a bug: 503 in the one error shape, with Retry-After.
    wrong = [
        (code, body)
        for code, headers, body in answers
        if code != 503
        or "Retry-After" not in headers
        or not isinstance(body, dict)
        or not body.get("error", {}).get("message")
    ]
    assert answers and not wrong, (
        f"{len(wrong)} of {len(answers)} reads during the database outage were not a 503 with "
        f"Retry-After in the error shape: {wrong[:3]}"
    )
    _expect_ran_once_and_clean_up(stack, tracker, jobs)


# --- (e) a member cluster's API server stopped --------------------------------------


def _shows_unreachable(job: dict, cluster: str) -> bool:
    """The job tells its cluster is unreachable, without claiming it failed."""
    if job is None or job["status"] in WRONG:
        return False
    text = f"{job['statusReason']} {job['statusMessage']}".lower()
    return cluster in text and any(
        word in text for word in ("unreachable", "not ready", "notready", "unknown")
    )


def test_member_apiserver_stopped_while_its_jobs_run(stack: Stack, tracker: Tracker):
    jobs = _create(stack, tracker, "member")
    _wait_running(tracker, jobs, "its member cluster stops")
    placed = {j.id: j.last["cluster"] for j in jobs}
    running = [j for j in jobs if j.status == "Running"]
    victim, _ = Counter(placed[j.id] for j in running).most_common(1)[0]
    on_victim = [j for j in running if placed[j.id] == victim]
    pid = stack.testbed.pid(f"{victim}-apiserver")
    os.kill(pid, signal.SIGSTOP)
    try:

        def outage_shown() -> bool:
            _fail_fast_on_wrong_status(tracker)
            return all(_shows_unreachable(stack.api.job(j.id), victim) for j in on_victim)

        wait_until(
            outage_shown,
            timeout=180,
            interval=2,
            message=f"the {len(on_victim)} jobs on {victim} to show it is unreachable",
            detail=lambda: f"{tracker.report()}\nclusters: {dump(stack.api.clusters())}",
        )
        clusters = {c["name"]: c for c in stack.api.clusters() or []}
        assert not clusters[victim]["ready"], f"{victim} still shown ready: {clusters[victim]}"
    finally:
        os.kill(pid, signal.SIGCONT)
    _expect_succeeded_once(stack, tracker, jobs)
    moved = {
        j.name: f"{placed[j.id]} -> {j.last['cluster']}"
        for j in jobs
        if j.last["cluster"] != placed[j.id]
    }
    assert not moved, f"jobs moved to another cluster, so they ran twice: {moved}"
    _delete_and_expect_nothing_left(stack, tracker, jobs)
