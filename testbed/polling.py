"""Waiting on a condition with a deadline: the one polling helper of the testbed and of
every test suite (standard library only, so the testbed never needs Django)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    check: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.25,
    message: str = "",
    retry_on: tuple[type[BaseException], ...] = (),
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy, and return that.

    An exception of a type in ``retry_on`` counts as "not yet" (an API server still
    starting). When ``timeout`` seconds pass first, raise TimeoutError naming ``message``,
    the last value or error seen, and ``on_timeout()``'s hint (where to look).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last
        except retry_on as exc:
            last = exc
        if time.monotonic() >= deadline:
            hint = f"; {on_timeout()}" if on_timeout else ""
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {message or 'the condition'}"
                f" (last: {last!r}){hint}"
            )
        time.sleep(interval)
