"""Migrations keep the previous release working while a rolling upgrade runs: its web and
worker pods go on inserting rows after `migrate` (docs/operations.md, "Upgrade"), so a
column added to an existing table either accepts NULL or has a default in the database
(``db_default``); a Django-only ``default`` is filled in by the new code alone."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import migrations
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED

# The last migration of each app released before this rule: their columns exist already.
BEFORE_THE_RULE = {
    "clusters": "0003_control_plane_health",
    "jobs": "0009_job_status_and_list_indexes",
    "webhooks": "0001_initial",
}


def unsafe_columns(loader: MigrationLoader, before: dict[str, str]) -> list[str]:
    """Columns added after ``before`` that the previous release's inserts would break."""
    unsafe = []
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        if app not in before or name <= before[app]:
            continue
        for op in migration.operations:
            if not isinstance(op, migrations.AddField):
                continue
            field = op.field
            if field.many_to_many or field.null or field.db_default is not NOT_PROVIDED:
                continue
            unsafe.append(f"{app}.{name}: {op.model_name}.{op.name}")
    return unsafe


def test_every_app_of_the_platform_is_covered():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    root = Path(settings.BASE_DIR).resolve()
    ours = {
        config.label
        for config in apps.get_app_configs()
        if Path(config.path).resolve().parent == root
    }
    # A new app adds its own line ("" when none of its migrations was released yet).
    assert set(BEFORE_THE_RULE) == ours & {app for app, _ in loader.disk_migrations}
    for app, name in BEFORE_THE_RULE.items():
        assert (app, name) in loader.disk_migrations


def test_added_columns_take_null_or_have_a_database_default():
    unsafe = unsafe_columns(MigrationLoader(None, ignore_no_migrations=True), BEFORE_THE_RULE)
    assert not unsafe, (
        "these columns would make the previous release's inserts fail during a rolling "
        f"upgrade: {unsafe}. Give them db_default= (as well as default=) or null=True."
    )


def test_the_rule_catches_a_django_only_default():
    """The check itself: 0005 added jobs.priority with a Django-only default."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = unsafe_columns(loader, {**BEFORE_THE_RULE, "jobs": "0004_platform_operators_group"})
    assert "jobs.0005_queue_quotas_priorities: trainingjob.priority" in found
    assert not any("queue_position" in f for f in found)  # null=True is safe
