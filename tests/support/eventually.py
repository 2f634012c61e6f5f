"""`eventually()`: the one polling helper of the tests (instead of a hand-written deadline loop in each module)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], *, within: float = 10.0, what: str | Callable[[], str] = "the condition",
    interval: float = 0.05,
) -> T:
    """Call `check` (sync or async) every `interval` seconds until it returns a truthy value, and return that value.

    After `within` seconds without one, raise AssertionError naming `what` (a text, or a function that
    describes the state at that moment) and the last value `check` returned.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {within:g} s waiting for {described}; last value: {value!r}")
        await asyncio.sleep(interval)
