"""Refusal replies are rate-limited per user and thread (issue 17, item 4), in the real store (both backends)."""

from __future__ import annotations

from bot.store.db import Database
from bot.store.refusals import RefusalStore


async def test_one_refusal_reply_per_user_per_thread_per_window(database: Database) -> None:
    refusals = RefusalStore(database)
    assert await refusals.may_reply("o/r", 1, "Visitor")
    assert not await refusals.may_reply("o/r", 1, "visitor")  # the same user (logins ignore case)
    assert await refusals.may_reply("o/r", 2, "visitor")  # another thread
    assert await refusals.may_reply("o/r", 1, "someone-else")
    assert await refusals.may_reply("o/r", 1, "visitor", window=0.0)  # the window has passed
