"""Small, strict readers for configuration from the environment.

Every setting the platform reads goes through these helpers so that a bad value fails
loudly at start-up instead of surfacing as odd behaviour later, and so that secrets
mounted as files (Kubernetes secrets, Docker secrets) work through ``NAME_FILE``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured


@overload
def envstr(name: str, default: str) -> str: ...
@overload
def envstr(name: str, default: None = None) -> str | None: ...


def envstr(name: str, default: str | None = None) -> str | None:
    """Return ``$NAME``, else the contents of the file named by ``$NAME_FILE``, else default."""
    value = os.environ.get(name)
    if value is not None and value != "":
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from exc
    return default


def envbool(name: str, default: bool) -> bool:
    value = envstr(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def envint(name: str, default: int) -> int:
    value = envstr(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc


def envlimit(name: str) -> float | None:
    """A quota limit: a non-negative number, or None when unset or ``unlimited``."""
    value = envstr(name)
    if value is None or value.strip().lower() in {"", "unlimited", "none"}:
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number or 'unlimited'") from exc
    if number < 0 or number != number:
        raise ImproperlyConfigured(f"{name}={value!r} must be 0 or more, or 'unlimited'")
    return number


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (envstr(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}")
    return value


def envlist(name: str, default: list[str]) -> list[str]:
    value = envstr(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Applied with fullmatch, like every pattern here.
_RATE = re.compile(r"\s*([0-9]+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*")


def envrate(name: str, default: str) -> str | None:
    """A request rate in Django REST framework's form (``600/min``, ``10/s``, ``1000/hour``);
    ``off`` turns the limit off (None)."""
    value = envstr(name, default)
    if value.strip().lower() in {"off", "none"}:
        return None
    match = _RATE.fullmatch(value)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate like 600/min, 10/s or 1000/hour (or off)"
        )
    return f"{match.group(1)}/{match.group(2)}"


def envheader(name: str) -> tuple[str, str] | None:
    """``HTTP_X_FORWARDED_PROTO,https`` → Django's SECURE_PROXY_SSL_HEADER tuple."""
    value = envstr(name)
    if not value:
        return None
    header, sep, expected = (part.strip() for part in value.partition(","))
    if not sep or not header.startswith("HTTP_") or not expected or "," in expected:
        raise ImproperlyConfigured(
            f"{name}={value!r} must be a request header as Django names it and the value "
            "that means HTTPS, e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return header, expected


# Applied with fullmatch (the whole value); [0-9] because \d would also take other scripts'
# digits, which float() then reads.
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Parse Go-style short durations (``1s``, ``500ms``, ``2m``; a bare number is seconds)."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 1s, 500ms or 2m")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def envduration(name: str, default: str) -> float:
    value = envstr(name, default)
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


def libpq_to_url(dsn: str) -> str:
    """Turn a libpq keyword DSN (``host=db user=u password=p dbname=x sslmode=disable``)
    into a ``postgres://`` URL; the original platform documented this form."""
    # libpq's own parser (quoting, escapes, known keywords), not a lookalike.
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn.strip()).items()}
    except ProgrammingError as exc:
        raise ValueError(f"cannot parse database DSN: {exc}") from exc
    host = params.pop("host", "localhost")
    port = params.pop("port", "")
    user = params.pop("user", "")
    password = params.pop("password", "")
    dbname = params.pop("dbname", user or "postgres")
    auth = ""
    if user:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    netloc = f"{auth}{host}" + (f":{port}" if port else "")
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    return f"postgres://{netloc}/{quote(dbname, safe='')}" + (f"?{query}" if query else "")


def database_config(value: str | None) -> dict[str, Any]:
    """Django DATABASES['default'] from DATABASE_URL in URL or libpq keyword form.

    Unset, no database is guessed: `make run` passes its embedded PostgreSQL's URL and every
    other process names its own. The settings still import (collectstatic needs no
    database); the first query then fails with a message saying so.
    """
    import dj_database_url

    if not value:
        return {"ENGINE": "mlplatform.nodb"}
    if "://" not in value and "=" in value:
        try:
            value = libpq_to_url(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from exc
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "mlplatform.postgresql"  # Django's, with a faster timestamp read
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Asked for explicitly. Web, worker and beat share the file: WAL and immediate
        # transactions keep the one-second sync from tripping over page requests.
        config["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return dict(config)
