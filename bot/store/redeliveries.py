"""What fetching back missed webhooks remembers (bot/intake/redelivery.py): a cursor and the asks per guid.

- The cursor is the newest numeric delivery id (GitHub's delivery *attempt* id, not the guid) already
  examined; the next pass stops paging when it reaches it, so each attempt is looked at once. It only moves
  forward.
- The asks: how many times the bot asked GitHub to redeliver a guid. A redelivery that fails again shows up
  as a new attempt (new id, same guid) and is examined again; the count bounds those repeated asks. Rows
  older than GitHub's redelivery window are forgotten (such a guid can no longer be redelivered anyway).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable

from bot.store.db import Database, in_lists

#: the one cursor in use: the App's webhook deliveries (GET /app/hook/deliveries)
APP_HOOK = "app_hook_deliveries"


class RedeliveryStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self._clock = clock

    async def cursor(self, name: str = APP_HOOK) -> int | None:
        """The newest delivery id examined so far (None: never looked)."""

        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute("SELECT newest_id FROM redelivery_cursor WHERE name = ?", (name,)).fetchone()
            return int(row[0]) if row is not None else None

        return await self.db.read(work)

    async def advance(self, newest_id: int, name: str = APP_HOOK) -> None:
        """Move the cursor to `newest_id` (never backwards)."""
        now = self._clock()

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO redelivery_cursor (name, newest_id, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET newest_id = CASE"
                " WHEN excluded.newest_id > redelivery_cursor.newest_id THEN excluded.newest_id"
                " ELSE redelivery_cursor.newest_id END,"
                " updated_at = excluded.updated_at",
                (name, newest_id, now),
            )

        await self.db.write(work)

    async def asks(self, guids: Iterable[str]) -> dict[str, int]:
        """How many times each of these guids was asked for (guids never asked for are left out)."""
        wanted = sorted(set(guids))

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            found: dict[str, int] = {}
            for chunk, marks in in_lists(wanted):
                rows = conn.execute(f"SELECT guid, asks FROM redelivery_asks WHERE guid IN ({marks})", chunk)
                found.update((str(guid), int(asks)) for guid, asks in rows)
            return found

        return await self.db.read(work)

    async def asked(self, guid: str) -> int:
        """Count one more ask for `guid`; returns the new count."""
        now = self._clock()

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT INTO redelivery_asks (guid, asks, last_asked_at) VALUES (?, 1, ?)"
                " ON CONFLICT(guid) DO UPDATE SET asks = redelivery_asks.asks + 1,"
                " last_asked_at = excluded.last_asked_at",
                (guid, now),
            )
            (asks,) = conn.execute("SELECT asks FROM redelivery_asks WHERE guid = ?", (guid,)).fetchone()
            return int(asks)

        return await self.db.write(work)

    async def forget_before(self, before: float) -> int:
        """Drop the asks last made before `before` (epoch seconds); returns how many were dropped."""

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM redelivery_asks WHERE last_asked_at < ?", (before,)).rowcount

        return await self.db.write(work)
