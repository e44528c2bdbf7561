"""The worker's and beat's log: routine periodic runs are left out, news is kept. Runs a
real Celery beat for a few ticks against the test Redis."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

from django.conf import settings

from mlplatform.logfilters import RoutineTaskFilter
from testbed.polling import wait_for


def _record(name: str, level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_routine_runs_are_dropped_and_their_warnings_kept():
    keep = RoutineTaskFilter().filter
    assert not keep(
        _record("celery.beat", logging.INFO, "Scheduler: Sending due task job-status-sync")
    )
    assert not keep(
        _record(
            "celery.app.trace",
            logging.INFO,
            "Task jobs.tasks.job_status_sync_task[1] succeeded in 0.01s: 0",
        )
    )
    assert keep(_record("celery.app.trace", logging.INFO, "Task jobs.tasks.job_submit_task ok"))
    assert keep(_record("celery.app.trace", logging.ERROR, "Task job_status_sync_task raised"))
    assert keep(_record("jobs.services", logging.INFO, "status sync: 3 of 9 active jobs changed"))


def test_a_real_beat_logs_no_line_per_tick(tmp_path):
    """Celery installs its own log handlers; the filter must reach them too."""
    env = {**os.environ, "MLPLATFORM_VAR_DIR": str(tmp_path), "JOB_MONITOR_INTERVAL": "200ms"}
    log_path = tmp_path / "beat.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mlplatform",
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp_path / 'schedule'}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
        )
    try:
        wait_for(lambda: "beat: Starting" in log_path.read_text(), timeout=60, message="beat up")
        # What is asserted is an absence: give the 200 ms schedule ten ticks to show up.
        time.sleep(2)
        assert proc.poll() is None, log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log_path.read_text()
    assert "beat: Starting" in text
    assert "Sending due task job-status-sync" not in text, text[-2000:]
