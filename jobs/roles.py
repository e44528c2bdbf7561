"""Who may see what: namespace grants for everyone, one permission for platform operators.

``is_staff`` is only the admin login. Seeing and managing every namespace is the
``jobs.operate_all_namespaces`` permission, normally held through the "Platform operators"
group (created by a migration); superusers hold every permission by Django's rules.
"""

from __future__ import annotations

from typing import Any

OPERATE_ALL_NAMESPACES = "jobs.operate_all_namespaces"
OPERATORS_GROUP = "Platform operators"
# What the group holds: every namespace, plus the admin pages an operator works in. The
# data migration keeps its own copy (migrations must not depend on code that moves on).
OPERATOR_PERMISSIONS = (
    ("jobs", "operate_all_namespaces"),
    ("jobs", "view_trainingjob"),
    ("jobs", "change_trainingjob"),
    ("jobs", "view_jobevent"),
    ("jobs", "view_namespacegrant"),
    ("jobs", "add_namespacegrant"),
    ("jobs", "change_namespacegrant"),
    ("jobs", "delete_namespacegrant"),
    ("clusters", "view_membercluster"),
    ("jobs", "view_namespacequota"),
    ("jobs", "add_namespacequota"),
    ("jobs", "change_namespacequota"),
    ("jobs", "delete_namespacequota"),
)


def is_platform_operator(user: Any) -> bool:
    """True when the user may see and manage jobs in every namespace."""
    return bool(user.is_authenticated and user.has_perm(OPERATE_ALL_NAMESPACES))


def operators_group():
    """The "Platform operators" group with its permissions (created when missing)."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    for app_label, codename in OPERATOR_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group
