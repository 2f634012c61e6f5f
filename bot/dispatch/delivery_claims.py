"""Deliveries claimed by several replicas on one PostgreSQL store (the delivery worker's cluster mode).

On SQLite one process handles every delivery and orders them in memory (bot/dispatch/worker.py). On
PostgreSQL any replica accepts webhooks and any replica handles them, so the store decides who handles what:

- A claim takes pending, due deliveries oldest first with `SELECT ... FOR UPDATE SKIP LOCKED` and gives each
  a lease (`claimed_by`, `lease_until`), renewed every third of the lease while the delivery is handled. A
  delivery whose lease lapsed (its replica died mid-handling) is claimed again by any replica and counts an
  attempt, as a restart does on SQLite; only the callbacks that had not completed run again.
- Per issue/PR order across replicas: each delivery is stored with its ordering key (`order_key`: one
  repository's issue or pull request, as the worker's `ordering_key`). A delivery is claimable only when no
  other delivery of its key is under a live lease and none older is pending and due: never two of one pull
  request in flight in the cluster, and a newer one never overtakes an older one (a delivery waiting for its
  retry does not hold the others back, as in one process). Claims take a transaction-level advisory lock
  (`CLAIM_LOCK`), so each claim's look at the other deliveries of a key sees every claim committed before it.
  The lock is only *tried* (`pg_try_advisory_xact_lock`): a claim that finds it taken tries again a moment
  later, so a replica's group commit never waits on another's (no deadlock between two replicas' groups).
- A new delivery sends `NOTIFY codegen_bot_deliveries` in its commit; every replica's listener wakes its
  worker's scanner (bot/store/pg_listen.py), which still looks every few seconds without one.
- The replica that finishes a delivery clears its lease and keeps `claimed_by` (who handled it last).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bot.store.db import Database
from bot.store.deliveries import StoredDelivery
from bot.store.delivery_body import unpack

#: PostgreSQL channel told when a delivery is stored
DELIVERIES_CHANNEL = "codegen_bot_deliveries"
#: the transaction-level advisory lock taken by every delivery claim ("claim" in ASCII)
CLAIM_LOCK = 0x636C61696D
#: tries of the claim lock before this scan gives up (the next wake-up or scan tries again)
LOCK_TRIES = 20

#: Claimable: per ordering key, the oldest pending and due delivery, when no delivery of that key holds a live
#: lease; and every pending, due, unleased delivery without a key. The keys are walked one by one through the
#: `deliveries_order` index (a loose index scan: one probe per key), so a claim costs a few index probes per
#: pull request with pending work, not a look at every pair of the backlog (the first query did that: 40-100 ms
#: per claim with 5,000 deliveries of one pull request pending, in the writer's group commit, which held the
#: webhook intake behind it). Parameters: now (due), now (live lease), now and now (the keyless), owner, the
#: new lease's end, limit. A lease is set only while its delivery is handled (finishing clears it), so the
#: `deliveries_leased` index holds a handful of rows.
_CLAIM = (
    "WITH RECURSIVE pending_keys(k) AS ("
    "  SELECT min(order_key) FROM deliveries WHERE state = 'pending'"
    "  UNION ALL"
    "  SELECT (SELECT min(order_key) FROM deliveries WHERE state = 'pending' AND order_key > pk.k)"
    "  FROM pending_keys pk WHERE pk.k IS NOT NULL"
    "), heads AS ("
    "  SELECT h.id, h.received_at FROM pending_keys pk CROSS JOIN LATERAL ("
    "   SELECT d.id, d.received_at FROM deliveries d"
    "   WHERE d.state = 'pending' AND d.order_key = pk.k AND d.next_attempt_at <= ?"
    "   ORDER BY d.received_at, d.id LIMIT 1) h"
    "  WHERE pk.k IS NOT NULL AND NOT EXISTS ("
    "   SELECT 1 FROM deliveries o WHERE o.state = 'pending' AND o.order_key = pk.k"
    "   AND o.lease_until IS NOT NULL AND o.lease_until >= ?)"
    "  UNION ALL"
    "  SELECT d.id, d.received_at FROM deliveries d WHERE d.state = 'pending' AND d.order_key IS NULL"
    "  AND d.next_attempt_at <= ? AND coalesce(d.lease_until, 0) < ?"
    ")"
    " UPDATE deliveries SET claimed_by = ?, lease_until = ? WHERE id IN ("
    " SELECT d.id FROM (SELECT id FROM heads ORDER BY received_at, id LIMIT ?) h"
    " JOIN deliveries d ON d.id = h.id FOR UPDATE OF d SKIP LOCKED)"
    " RETURNING id, event, body, attempts, done_callbacks, received_at"
)


class DeliveryClaims:
    """Claims, renews and hands back deliveries for one replica (`owner`)."""

    def __init__(self, db: Database, owner: str, lease: float) -> None:
        self.db = db
        self.owner = owner
        self.lease = lease
        #: the last claim gave up on the claim lock (other replicas were claiming): look again soon
        self.contended = False

    async def claim(self, limit: int) -> list[StoredDelivery]:
        """Up to `limit` deliveries for this replica, oldest first, at most one per issue/PR."""
        def work(conn: Any) -> list[Any] | None:
            if not conn.execute("SELECT pg_try_advisory_xact_lock(?)", (CLAIM_LOCK,)).fetchone()[0]:
                return None  # another replica is claiming: try again shortly
            now = time.time()
            return list(conn.execute(_CLAIM, (now, now, now, now, self.owner, now + self.lease, limit)).fetchall())

        rows: list[Any] | None = None
        for attempt in range(LOCK_TRIES):
            rows = await self.db.write(work)
            if rows is not None:
                break
            await asyncio.sleep(0.005 * (attempt + 1))
        self.contended = rows is None
        found = [
            StoredDelivery(r["id"], r["event"], unpack(bytes(r["body"])), r["attempts"],
                           frozenset(json.loads(r["done_callbacks"])), float(r["received_at"]))
            for r in rows or ()
        ]
        return sorted(found, key=lambda d: (d.received_at, d.id))

    async def renew(self, ids: list[str]) -> None:
        """Extend the leases of the deliveries being handled here."""
        if not ids:
            return
        until = time.time() + self.lease
        await self.db.write(lambda conn: conn.execute(
            "UPDATE deliveries SET lease_until = ? WHERE id = ANY(?) AND claimed_by = ? AND state = 'pending'",
            (until, list(ids), self.owner)))

    async def release_own(self) -> int:
        """At start-up: what this replica's identity held when it stopped is claimable again at once."""
        return int(await self.db.write(lambda conn: conn.execute(
            "UPDATE deliveries SET lease_until = NULL WHERE claimed_by = ? AND state = 'pending'"
            " AND lease_until IS NOT NULL", (self.owner,)).rowcount))
