"""Namespaces no job may run in and no grant may open: the cluster's own, Karmada's, the
operators' and the platform's (setting ``SYSTEM_NAMESPACES``, shell-style patterns)."""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.conf import settings


def system_namespace_rule(name: str) -> str | None:
    """The ``SYSTEM_NAMESPACES`` pattern that ``name`` matches as a whole, or None."""
    for pattern in settings.SYSTEM_NAMESPACES:
        # fnmatchcase: namespaces are lower case, and a pattern must not match by accident of
        # the host's case rules.
        if fnmatchcase(name, pattern):
            return pattern
    return None


def system_namespace_reason(name: str, pattern: str, *, refused: str) -> str:
    return f"'{name}' is a system namespace (matches '{pattern}'); {refused}"
