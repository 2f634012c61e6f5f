"""Webhook deliveries in the store: record on receipt, claim for handling, mark each callback done.

Life of a delivery: `pending` (stored, 2xx sent) → `handled` (every callback returned) or, when a callback
keeps raising, `failed` after `MAX_ATTEMPTS` (each attempt re-runs only the callbacks that have not
completed yet). Completed callbacks are recorded as they finish, so a crash re-runs only the callback that
was in flight.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database, in_lists
from bot.store.delivery_body import pack, unpack
from bot.store.delivery_keys import DeliveryKeys

MAX_ATTEMPTS = 3
#: delay before attempt n+1 (seconds), by attempt number n
RETRY_DELAYS = {1: 30.0, 2: 300.0}


@dataclass(frozen=True)
class StoredDelivery:
    id: str
    event: str
    body: bytes
    attempts: int
    done_callbacks: frozenset[str]
    #: when it was stored (epoch seconds)
    received_at: float = 0.0


@dataclass(frozen=True)
class IncomingDelivery:
    id: str
    event: str
    action: str | None
    installation_id: int | None
    body: bytes
    received_at: float
    #: the body as stored (bot/delivery_body.py), when whoever verified it packed it already
    packed: bytes | None = None
    #: its digest and ordering key, when whoever verified it derived them already; then, with `packed`, `body`
    #: may be empty (the core process stores what an intake process verified without unpacking it)
    keys: DeliveryKeys | None = None

    def stored_body(self) -> bytes:
        return self.packed if self.packed is not None else pack(self.body)


@dataclass(frozen=True)
class DeliverySummary:
    """A delivery without its body (the operators' status page)."""

    id: str
    event: str
    action: str | None
    installation_id: int | None
    state: str
    attempts: int
    received_at: float
    handled_at: float | None
    error: str | None


class DeliveryStore:
    def __init__(
        self, db: Database, *, replay_check: bool = True, order_key: Callable[[bytes], str | None] | None = None,
        notify: str | None = None,
    ) -> None:
        self.db = db
        #: refuse a body already stored under another id (WEBHOOK_REPLAY_CHECK)
        self.replay_check = replay_check
        #: several replicas (bot/dispatch/delivery_claims.py): each delivery's ordering key is stored with it,
        #: and its commit NOTIFYs this PostgreSQL channel
        self.order_key = order_key
        self.notify = notify

    async def record(self, delivery: IncomingDelivery) -> bool:
        """Store a verified delivery durably; False when its id was already stored (a redelivery), or when
        the same signed body was stored under another id (a replay: GitHub's own redeliveries keep the id).

        The deliveries that arrive while a group commit runs are stored by one multi-row INSERT in the next
        (`Database.write_batched`): one round trip to PostgreSQL for the whole group, not one per delivery."""
        keys = delivery.keys
        digest = None
        if self.replay_check:
            digest = keys.digest if keys is not None else hashlib.sha256(delivery.body).digest()
        order_key = None
        if self.order_key is not None:
            order_key = keys.order_key if keys is not None else self.order_key(delivery.body)
        row = (delivery.id, delivery.event, delivery.action, delivery.installation_id, delivery.stored_body(),
               delivery.received_at, digest, order_key)
        return bool(await self.db.write_batched("deliveries.record", row, self._store_rows))

    def _store_rows(self, conn: Any, rows: list[tuple[Any, ...]]) -> list[bool]:
        """Insert `rows` at once; True for each row stored, False for an id or a signed body stored already (or
        earlier in `rows`). Two replicas storing one id at once: the second waits for the first's commit, then
        stores nothing."""
        first: dict[str, int] = {}
        for index, row in enumerate(rows):
            first.setdefault(row[0], index)
        fresh = [rows[index] for index in first.values()]
        cur = conn.execute(
            "INSERT INTO deliveries (id, event, action, installation_id, body, received_at, body_digest, order_key)"
            " VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(fresh)) + " ON CONFLICT DO NOTHING RETURNING id",
            [value for row in fresh for value in row],
        )
        stored = {str(found[0]) for found in cur.fetchall()}
        if stored and self.notify is not None:  # sent with the next statement, not waited for
            conn.defer(f"NOTIFY {self.notify}")
        return [row[0] in stored and first[row[0]] == index for index, row in enumerate(rows)]

    async def due(self, limit: int, exclude: set[str]) -> list[str]:
        """Ids of pending deliveries whose next attempt is due, oldest first."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY received_at LIMIT ?",
                (now, limit + len(exclude)),
            ).fetchall()
            return [r[0] for r in rows if r[0] not in exclude][:limit]

        return await self.db.read(work)

    async def load(self, delivery_id: str) -> StoredDelivery | None:
        def work(conn: sqlite3.Connection) -> StoredDelivery | None:
            row = conn.execute(
                "SELECT id, event, body, attempts, done_callbacks, received_at FROM deliveries"
                " WHERE id = ? AND state = 'pending'",
                (delivery_id,),
            ).fetchone()
            if row is None:
                return None
            return StoredDelivery(
                row["id"],
                row["event"],
                unpack(bytes(row["body"])),
                row["attempts"],
                frozenset(json.loads(row["done_callbacks"])),
                float(row["received_at"]),
            )

        return await self.db.read(work)

    async def start_attempt(self, delivery_id: str) -> None:
        """Count an attempt. The attempts that start during one group commit are one batch (one round trip)."""
        await self.db.write_batched("deliveries.start_attempt", (delivery_id,), _start_attempts)

    async def callback_done(self, delivery_id: str, callback: str) -> None:
        """Record that a callback completed (it never runs again for this delivery), batched like `finish`."""
        await self.db.write_batched("deliveries.callback_done", (delivery_id, callback),
                                    functools.partial(_callbacks_done, lock=self.db.row_lock))

    async def finish(self, delivery_id: str, errors: list[str], attempt: int, owner: str | None = None) -> str:
        """Close an attempt; returns the new state (`handled`, `pending` for a retry, or `failed`). With `owner`
        (several replicas), only while that replica holds the claim: one whose lease lapsed finishes nothing."""
        now = time.time()
        if not errors:
            state, next_at, error = "handled", 0.0, None
        elif attempt >= MAX_ATTEMPTS:
            state, next_at, error = "failed", 0.0, "\n".join(errors)
        else:
            state, next_at, error = "pending", now + RETRY_DELAYS.get(attempt, 300.0), "\n".join(errors)

        params = (state, next_at, error, state, now, state, state, b"", delivery_id)
        await self.db.write_batched("deliveries.finish", (params, owner), _finish_attempts)
        return state

    async def replay(self, delivery_id: str) -> bool:
        """Put a failed delivery back in the queue (CLI `codegen-bot replay`)."""

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0"
                " WHERE id = ? AND state = 'failed'",
                (delivery_id,),
            )
            return cur.rowcount == 1

        return await self.db.write(work)

    async def held(self, ids: Iterable[str]) -> set[str]:
        """Which of these delivery ids (GitHub's `X-GitHub-Delivery`, its deliveries' `guid`) the store holds,
        in any state (fetching back missed webhooks asks GitHub only for the others)."""
        wanted = sorted(set(ids))

        def work(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for chunk, marks in in_lists(wanted):
                found.update(r[0] for r in conn.execute(f"SELECT id FROM deliveries WHERE id IN ({marks})", chunk))
            return found

        return await self.db.read(work)

    async def recent(self, limit: int = 50, *, state: str | None = None) -> list[DeliverySummary]:
        """The newest deliveries (all states, or only `state`), newest first, without their bodies."""
        where, args = ("WHERE state = ?", (state, limit)) if state is not None else ("", (limit,))

        def work(conn: sqlite3.Connection) -> list[DeliverySummary]:
            rows = conn.execute(
                "SELECT id, event, action, installation_id, state, attempts, received_at, handled_at, error"
                f" FROM deliveries {where} ORDER BY received_at DESC LIMIT ?", args).fetchall()
            return [DeliverySummary(**dict(r)) for r in rows]

        return await self.db.read(work)

    async def pending_count(self) -> int:
        return await self.db.read(
            lambda conn: conn.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
        )


_FINISH = (
    "UPDATE deliveries SET state = ?, next_attempt_at = ?, error = ?, lease_until = NULL,"
    " handled_at = CASE WHEN ? != 'pending' THEN ? ELSE handled_at END,"
    " handled_count = handled_count + CASE WHEN ? = 'handled' THEN 1 ELSE 0 END,"
    " body = CASE WHEN ? = 'handled' THEN ? ELSE body END"
    " WHERE id = ?"
)


def _start_attempts(conn: Any, rows: list[tuple[str]]) -> list[None]:
    conn.executemany("UPDATE deliveries SET attempts = attempts + 1 WHERE id = ?", rows)
    return [None] * len(rows)


def _finish_attempts(conn: Any, rows: list[tuple[tuple[Any, ...], str | None]]) -> list[None]:
    """The attempts that ended during one group commit, in one round trip (`executemany` is pipelined on
    PostgreSQL). A row with an owner (several replicas) finishes only while that replica holds the claim."""
    claimed = [(*params, owner) for params, owner in rows if owner is not None]
    unclaimed = [params for params, owner in rows if owner is None]
    if unclaimed:
        conn.executemany(_FINISH, unclaimed)
    if claimed:
        conn.executemany(_FINISH + " AND claimed_by = ?", claimed)
    return [None] * len(rows)


def _callbacks_done(conn: Any, rows: list[tuple[str, str]], lock: str) -> list[None]:
    """Add each (delivery, callback) to its delivery's completed callbacks: one read, one pipelined write.

    On PostgreSQL the read locks the rows (`lock`, the store's `row_lock`), in id order so that two batches
    never wait on each other in a circle: two callbacks of one delivery that complete at once may be committed
    by two batch writers, and without the lock the second would write a list read before the first's commit,
    losing it (its callback would run again). SQLite has one writer: nothing to lock."""
    added: dict[str, set[str]] = {}
    for delivery_id, callback in rows:
        added.setdefault(delivery_id, set()).add(callback)
    ids = sorted(added)
    done: dict[str, set[str]] = {}
    for chunk, marks in in_lists(ids):
        query = f"SELECT id, done_callbacks FROM deliveries WHERE id IN ({marks}) ORDER BY id{lock}"
        for found in conn.execute(query, chunk):
            done[str(found[0])] = set(json.loads(found[1]))
    updates = [(json.dumps(sorted(done[i] | added[i])), i) for i in ids if i in done]
    if updates:
        conn.executemany("UPDATE deliveries SET done_callbacks = ? WHERE id = ?", updates)
    return [None] * len(rows)

