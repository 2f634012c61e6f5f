"""Refusal replies, rate-limited: one per user per thread per window (a public repository's visitors must
not be able to make the bot post a comment per comment they write)."""

from __future__ import annotations

import sqlite3
import time

from bot.store.db import Database

#: seconds during which a user gets no second refusal reply in one thread
WINDOW = 600.0


class RefusalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def may_reply(self, repo: str, number: int, user: str, window: float = WINDOW) -> bool:
        """True (and the reply is noted) when `user` was not refused in this thread within `window` seconds."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                'INSERT INTO refusals (repo, number, "user", replied_at) VALUES (?, ?, ?, ?)'
                ' ON CONFLICT (repo, number, "user") DO UPDATE SET replied_at = excluded.replied_at'
                " WHERE refusals.replied_at < ?",
                (repo, number, user.lower(), now, now - window),
            )
            return cur.rowcount > 0

        return await self.db.write(work)
