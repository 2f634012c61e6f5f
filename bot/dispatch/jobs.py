"""A durable job queue in the store, for work that outlives a webhook: validations, agent-run polling,
merge evaluations.

- A job has a `kind` (which runner runs it), a JSON `payload`, a due time `run_at`, and an optional `key`:
  at most one *queued or running* job exists per key, and enqueueing with a key that is already queued
  replaces its payload and due time (this is how polls are rescheduled and merge checks debounced).
- Each kind has its own concurrency limit (validations: 2; polls: many).
- A job may name its `tenant` (the installation it works for). For a kind registered `fair=True`, a free
  slot goes to the due job whose tenant has the fewest jobs of that kind running, oldest first among
  equals: one installation's burst of pushes cannot hold every validation slot while another waits.
- A runner returns `None` (done) or `Retry(after=seconds)` to run the same job again later (a poll that is
  not finished). An exception marks the job failed after `max_attempts`, otherwise it is retried with backoff.
  A kind registered with `on_exhausted` is told when one of its jobs fails for good (`on_exhausted(job,
  error)`), so that what the job stood for (a validation, an agent run) is concluded, not left running.
- `cancel(key)` marks a job cancelled and cancels its task at once if it is running (a new push cancels the
  old commit's validation within a second).
- After a crash, jobs left `running` go back to `queued` at start-up: nothing is lost, and each runner is
  written so that running a job again is harmless.
- A job queued while a delivery is handled keeps that delivery's id (`delivery_id`; a job queued by a job
  inherits it), and its runner's log lines carry it. `/metrics`: jobs queued per kind (`jobs_queued`, at
  scrape time) and job attempts that raised (`job_failures`), per kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.runtime.logs import delivery_context, delivery_id_var
from bot.runtime.metrics import Metrics
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    attempts: int
    #: the delivery whose handling queued this job (or the job that queued it), for its logs
    delivery_id: str | None = None


@dataclass(frozen=True)
class Retry:
    """Run the job again after `after` seconds (not counted as a failure), optionally with a new payload."""

    after: float
    payload: dict[str, Any] | None = None


Runner = Callable[[Job], Awaitable[Retry | None]]
#: told when a job failed for good (its attempts used up): the job and its last error
Exhausted = Callable[[Job, str], Awaitable[None]]


@dataclass
class Kind:
    runner: Runner
    concurrency: int = 4
    max_attempts: int = 3
    #: share the slots between tenants (fewest running first) rather than strictly oldest first
    fair: bool = False
    running: set[int] = field(default_factory=set)
    on_exhausted: Exhausted | None = None


class JobQueue:
    def __init__(self, db: Database, *, idle_poll: float = 5.0, metrics: Metrics | None = None) -> None:
        self.db = db
        self.idle_poll = idle_poll
        self.metrics = metrics if metrics is not None else Metrics()
        self.metrics.on_scrape("jobs_queued", self._count_queued)
        self._kinds: dict[str, Kind] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    def register(
        self, kind: str, runner: Runner, *, concurrency: int = 4, max_attempts: int = 3, fair: bool = False,
        on_exhausted: Exhausted | None = None,
    ) -> None:
        self._kinds[kind] = Kind(runner, concurrency, max_attempts, fair, on_exhausted=on_exhausted)

    def wake(self) -> None:
        """A job was inserted in another transaction than `enqueue`'s (a store that queues with its own
        record): look for due jobs now rather than at the next idle poll."""
        self._wake.set()

    # --- producing ----------------------------------------------------------------------------
    async def enqueue(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None, delay: float = 0.0,
        tenant: str | None = None,
    ) -> int:
        """Queue a job (or, with a key already queued, replace its payload and due time). Returns its id."""
        run_at = time.time() + delay
        body = json.dumps(payload)
        delivery_id = delivery_id_var.get()

        def work(conn: sqlite3.Connection) -> int:
            if key is not None:
                row = conn.execute(
                    "SELECT id, state FROM jobs WHERE key = ? AND state IN ('queued', 'running')", (key,)
                ).fetchone()
                if row is not None and row["state"] == "queued":
                    conn.execute(
                        "UPDATE jobs SET payload = ?, run_at = ?, kind = ?, delivery_id = coalesce(?, delivery_id)"
                        " WHERE id = ?",
                        (body, run_at, kind, delivery_id, row["id"]),
                    )
                    return int(row["id"])
                if row is not None:  # running: queue a follow-up after it, under no key collision
                    conn.execute("UPDATE jobs SET key = NULL WHERE id = ?", (row["id"],))
            cur = conn.execute(
                "INSERT INTO jobs (kind, key, payload, state, run_at, created_at, tenant, delivery_id)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                (kind, key, body, run_at, time.time(), tenant, delivery_id),
            )
            return int(cur.lastrowid or 0)

        job_id = await self.db.write(work)
        self._wake.set()
        return job_id

    async def cancel(self, key: str) -> bool:
        """Cancel the queued or running job with this key; True when there was one."""

        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT id FROM jobs WHERE key = ? AND state IN ('queued', 'running')", (key,)
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE jobs SET state = 'cancelled', key = NULL, updated_at = ? WHERE id = ?",
                         (time.time(), row["id"]))
            return int(row["id"])

        job_id = await self.db.write(work)
        if job_id is None:
            return False
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
        return True

    async def get(self, job_id: int) -> dict[str, Any] | None:
        def work(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return dict(row) if row else None

        return await self.db.read(work)

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

    # --- running ------------------------------------------------------------------------------
    async def start(self) -> None:
        def recover(conn: sqlite3.Connection) -> int:
            return conn.execute("UPDATE jobs SET state = 'queued' WHERE state = 'running'").rowcount

        recovered = await self.db.write(recover)
        if recovered:
            log.warning("re-queued %d job(s) interrupted by a restart", recovered)
        self._loop_task = asyncio.create_task(self._loop(), name="job-queue")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # jobs interrupted by the stop stay 'running' in the store and are re-queued at the next start

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

    async def _loop(self) -> None:
        while True:
            try:
                next_due = await self._dispatch_due()
            except Exception:
                log.exception("job queue dispatch failed")
                next_due = self.idle_poll
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.01, min(next_due, self.idle_poll))):
                    await self._wake.wait()

    async def _dispatch_due(self) -> float:
        """Start every due job that has room; return seconds until the next known due job."""
        now = time.time()
        free = {k: kind.concurrency - len(kind.running) for k, kind in self._kinds.items()}
        wanted = [k for k, room in free.items() if room > 0]
        if not wanted:
            return self.idle_poll

        def claim(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], float | None]:
            claimed: list[sqlite3.Row] = []
            for kind in wanted:
                fair = self._kinds[kind].fair
                for row in _due(conn, kind, now, free[kind], fair):
                    conn.execute(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                        (now, row["id"]),
                    )
                    claimed.append(row)
            placeholders = ",".join("?" * len(self._kinds))
            nxt = conn.execute(
                f"SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind IN ({placeholders})",
                list(self._kinds),
            ).fetchone()[0]
            return claimed, nxt

        rows, next_at = await self.db.write(claim)
        for row in rows:
            job = Job(row["id"], row["kind"], row["key"], json.loads(row["payload"]), row["attempts"] + 1,
                      row["delivery_id"])
            kind = self._kinds[job.kind]
            kind.running.add(job.id)
            self._tasks[job.id] = asyncio.create_task(self._run(job, kind), name=f"job-{job.kind}-{job.id}")
        return (next_at - time.time()) if next_at is not None else self.idle_poll

    async def _run(self, job: Job, kind: Kind) -> None:
        with delivery_context(job.delivery_id):
            await self._run_in_context(job, kind)

    async def _run_in_context(self, job: Job, kind: Kind) -> None:
        try:
            outcome = await kind.runner(job)
        except asyncio.CancelledError:
            if self._loop_task is None:  # the queue is stopping: leave the job 'running' for recovery
                raise
            await self._finish(job.id, "cancelled", None, None)
            return
        except Exception as exc:
            log.exception("job %s %d failed", job.kind, job.id)
            self.metrics.job_failures.labels(kind=job.kind).inc()
            if job.attempts >= kind.max_attempts:
                await self._finish(job.id, "failed", None, f"{type(exc).__name__}: {exc}")
                await self._exhausted(job, kind, f"{type(exc).__name__}: {exc}")
            else:
                await self._finish(job.id, "queued", 2.0 ** job.attempts * 5, f"{type(exc).__name__}: {exc}")
        else:
            if isinstance(outcome, Retry):
                await self._finish(
                    job.id, "queued", outcome.after, None, outcome.payload, reset_attempts=True, keyed=job.key
                )
            else:
                await self._finish(job.id, "done", None, None)
        finally:
            kind.running.discard(job.id)
            self._tasks.pop(job.id, None)
            self._wake.set()

    async def _exhausted(self, job: Job, kind: Kind, error: str) -> None:
        if kind.on_exhausted is None:
            return
        try:
            await kind.on_exhausted(job, error)
        except Exception:
            log.exception("concluding exhausted job %s %d failed", job.kind, job.id)

    async def _finish(
        self,
        job_id: int,
        state: str,
        after: float | None,
        error: str | None,
        payload: dict[str, Any] | None = None,
        *,
        reset_attempts: bool = False,
        keyed: str | None = None,
    ) -> None:
        now = time.time()

        def work(conn: sqlite3.Connection) -> None:
            current = conn.execute("SELECT state, key FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is None or current["state"] == "cancelled":
                return  # cancelled while running: the cancel wins
            if state == "queued" and keyed is not None and current["key"] is None:
                # a newer job took this key while this one ran: it supersedes the retry
                conn.execute("UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ?", (now, job_id))
                return
            conn.execute(
                "UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), error = ?, updated_at = ?,"
                " payload = coalesce(?, payload), attempts = CASE WHEN ? THEN 0 ELSE attempts END WHERE id = ?",
                (
                    state,
                    now + after if after is not None else None,
                    error,
                    now,
                    json.dumps(payload) if payload is not None else None,
                    reset_attempts,
                    job_id,
                ),
            )

        await self.db.write(work)


_OLDEST = "SELECT * FROM jobs WHERE state = 'queued' AND kind = ? AND run_at <= ? ORDER BY run_at LIMIT ?"
_FAIREST = (
    "SELECT * FROM jobs j WHERE state = 'queued' AND kind = ? AND run_at <= ? ORDER BY"
    " (SELECT count(*) FROM jobs r WHERE r.state = 'running' AND r.kind = j.kind AND r.tenant IS j.tenant),"
    " run_at LIMIT 1"
)


def _due(conn: sqlite3.Connection, kind: str, now: float, room: int, fair: bool) -> list[sqlite3.Row]:
    """The due jobs to start now. Fair kinds pick one at a time, so each pick sees the ones before it."""
    if not fair:
        return list(conn.execute(_OLDEST, (kind, now, room)).fetchall())
    picked: list[sqlite3.Row] = []
    for _ in range(room):
        row = conn.execute(_FAIREST, (kind, now)).fetchone()
        if row is None:
            break
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (row["id"],))
        picked.append(row)
    return picked
