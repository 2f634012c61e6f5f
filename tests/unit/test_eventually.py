"""The shared polling helper of the tests: sync and async checks, the value returned, what a timeout says."""

from __future__ import annotations

import pytest

from tests.support.eventually import eventually


async def test_returns_the_first_truthy_value_of_a_sync_check() -> None:
    calls: list[int] = []

    def check() -> list[int]:
        calls.append(1)
        return calls if len(calls) >= 3 else []

    assert await eventually(check, within=5, interval=0.001) == [1, 1, 1]


async def test_awaits_an_async_check() -> None:
    async def check() -> str:
        return "ready"

    assert await eventually(check, within=5) == "ready"


async def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.1 s waiting for the merge; last value: \[\]"):
        await eventually(lambda: [], within=0.1, what="the merge")
    with pytest.raises(AssertionError, match="waiting for state 42"):
        await eventually(lambda: 0, within=0.01, what=lambda: "state 42")
