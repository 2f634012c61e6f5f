"""The job queue's reads and replays (bot/dispatch/jobs.py `JobQueue` inherits them): one job, the failed ones
(the operators' status page), a replay of a failed job, counts and `/metrics`, and `wait_idle` (tests)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from bot.runtime.metrics import Metrics
from bot.store.db import Database


class JobReads:
    db: Database
    metrics: Metrics
    _kinds: dict[str, Any]
    _tasks: dict[int, asyncio.Task[None]]
    _wake: asyncio.Event

    async def get(self, job_id: int) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return dict(row) if row else None

        return await self.db.read(work)

    async def failed(self, limit: int = 50) -> list[dict[str, Any]]:
        """Jobs that used up their attempts, the newest first (the operators' status page)."""
        rows = await self.db.read(lambda c: c.execute(
            "SELECT id, kind, key, payload, attempts, created_at, updated_at, error FROM jobs WHERE state = 'failed'"
            " ORDER BY updated_at DESC LIMIT ?", (limit,)).fetchall())
        return [dict(r) for r in rows]

    async def requeue_failed(self, job_id: int) -> bool:
        """Queue a failed job again with fresh attempts (a replay); False when it is not failed, or a live job
        already holds its key (that one does the work)."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT key FROM jobs WHERE id = ? AND state = 'failed'", (job_id,)).fetchone()
            if row is None or (row["key"] is not None and conn.execute(
                    "SELECT 1 FROM jobs WHERE key = ? AND state IN ('queued', 'running')", (row["key"],)).fetchone()):
                return False
            conn.execute("UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, updated_at = ? WHERE id = ?",
                         (time.time(), time.time(), job_id))
            return True

        replayed = await self.db.write(work)
        self._wake.set()
        return bool(replayed)

    async def count(self, state: str, kind: str | None = None) -> int:
        def work(conn: sqlite3.Connection) -> int:
            if kind is None:
                return int(conn.execute("SELECT count(*) FROM jobs WHERE state = ?", (state,)).fetchone()[0])
            return int(
                conn.execute("SELECT count(*) FROM jobs WHERE state = ? AND kind = ?", (state, kind)).fetchone()[0]
            )

        return await self.db.read(work)

    async def _count_queued(self) -> None:
        """`/metrics` `jobs_queued{kind}` (every registered kind, 0 included), read from the store."""
        rows = await self.db.read(
            lambda c: c.execute("SELECT kind, count(*) FROM jobs WHERE state = 'queued' GROUP BY kind").fetchall()
        )
        counts = {str(r[0]): int(r[1]) for r in rows}
        for kind in {*self._kinds, *counts}:
            self.metrics.jobs_queued.labels(kind=kind).set(counts.get(kind, 0))

    async def wait_idle(self, within: float) -> None:
        """Wait until no job is queued-and-due or running (tests)."""
        async with asyncio.timeout(within):
            while True:
                due = await self.db.read(
                    lambda c: c.execute(
                        "SELECT count(*) FROM jobs WHERE (state = 'queued' AND run_at <= ?) OR state = 'running'",
                        (time.time(),),
                    ).fetchone()[0]
                )
                if due == 0 and not self._tasks:
                    return
                self._wake.set()
                await asyncio.sleep(0.05)
