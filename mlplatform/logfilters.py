"""Keep the log about what happened, not about the clock ticking.

The status sync runs every second and the sweeps every few: Celery would write "Sending
due task", "Task received" and "Task succeeded" for each run, three INFO lines a second
that bury everything else. The tasks log a line of their own when they change something.
"""

from __future__ import annotations

import logging

# Periodic tasks whose routine runs are not news; their warnings and errors still are.
ROUTINE_TASKS = (
    "job_status_sync_task",
    "job_pending_sweep_task",
    "job_cleanup_sweep_task",
    "cluster_inventory_sync_task",
    "job_insight_sync_task",
    "job-insight-sync",
    "job-status-sync",
    "job-pending-sweep",
    "job-cleanup-sweep",
    "cluster-inventory-sync",
)


class RoutineTaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if not record.name.startswith("celery"):
            return True
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to drop
            return True
        return not any(name in text for name in ROUTINE_TASKS)
