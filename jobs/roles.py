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
    """True when the user may see and manage jobs in every namespace.

    Django's ``has_perm`` answers the same, but reads all of the user's and their groups'
    permissions in two queries; every API call and page asks this, so one EXISTS instead
    (remembered on the user object for the rest of the request)."""
    known = known_operator(user)
    if known is None:
        known = remember_operator(user, operator_permission(user).exists())
    return known


def known_operator(user: Any) -> bool | None:
    """What is already known without a query: False for anonymous or inactive users, True
    for superusers, the remembered answer, or None (ask ``operator_permission``)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return getattr(user, "_mlplatform_operator", None)


def remember_operator(user: Any, is_operator: bool) -> bool:
    user._mlplatform_operator = is_operator
    return is_operator


def operator_permission(user: Any) -> Any:
    """The rows (the user's or their groups') that hold ``operate_all_namespaces``."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    app_label, codename = OPERATE_ALL_NAMESPACES.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename).filter(
        Q(user=user) | Q(group__user=user)
    )


def operators_group():
    """The "Platform operators" group with its permissions (created when missing)."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    for app_label, codename in OPERATOR_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group
