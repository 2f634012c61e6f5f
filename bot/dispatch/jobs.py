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
  written so that running a job again is harmless. On PostgreSQL several replicas share the queue: claims
  hold an expiring lease instead, and a dead replica's jobs are claimed again when their lease lapses
  (bot/dispatch/claims.py).
- `schedule(kind, key, delay)` is a timer (the reconciler, the retention sweep): one live job per key in the
  whole cluster, brought forward when due later; a running one is left to reschedule itself.
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
from typing import Any, TypeVar

from bot.dispatch.claims import DEFAULT_LEASE, claims_for
from bot.dispatch.job_reads import JobReads
from bot.runtime.logs import delivery_context, delivery_id_var
from bot.runtime.metrics import Metrics
from bot.store.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")


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


class JobQueue(JobReads):
    def __init__(
        self, db: Database, *, idle_poll: float = 5.0, metrics: Metrics | None = None, owner: str | None = None,
        lease: float = DEFAULT_LEASE,
    ) -> None:
        self.db = db
        self.idle_poll = idle_poll
        #: how jobs are claimed: by this process alone (SQLite) or under a lease (PostgreSQL, several replicas)
        self.claims = claims_for(db.dialect, owner, lease)
        self._renewer: asyncio.Task[None] | None = None
        self._notices: set[asyncio.Task[None]] = set()
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
            self.claims.notify(conn)
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
            (new_id,) = conn.execute(
                "INSERT INTO jobs (kind, key, payload, state, run_at, created_at, tenant, delivery_id)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING id",
                (kind, key, body, run_at, time.time(), tenant, delivery_id),
            ).fetchall()[0]
            return int(new_id)

        job_id = await _retrying(lambda: self.db.write(work))
        self._wake.set()
        return job_id

    async def schedule(self, kind: str, key: str, delay: float) -> None:
        """A timer: the job `key` runs within `delay` seconds, once in the whole cluster. With none live, one is
        queued (two replicas starting at once make one: the key is unique among live jobs); a queued one due
        later is brought forward; a running one is left alone (it reschedules itself when it ends)."""
        run_at = time.time() + delay

        def work(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT id, state, run_at FROM jobs WHERE key = ? AND state IN ('queued', 'running')",
                               (key,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO jobs (kind, key, payload, state, run_at, created_at)"
                    " VALUES (?, ?, '{}', 'queued', ?, ?) ON CONFLICT DO NOTHING", (kind, key, run_at, time.time()))
                self.claims.notify(conn)
            elif row["state"] == "queued" and float(row["run_at"]) > run_at:
                conn.execute("UPDATE jobs SET run_at = ? WHERE id = ?", (run_at, row["id"]))

        await _retrying(lambda: self.db.write(work))
        self._wake.set()

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
            self.claims.notify(conn, "cancel")
            return int(row["id"])

        job_id = await self.db.write(work)
        if job_id is None:
            return False
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
        return True

    # --- running ------------------------------------------------------------------------------
    async def start(self) -> None:
        recovered = await self.db.write(self.claims.recover)
        if recovered:
            log.warning("re-queued %d job(s) interrupted by a restart", recovered)
        self._loop_task = asyncio.create_task(self._loop(), name="job-queue")
        if self.claims.leased:
            self._renewer = asyncio.create_task(self._renew_loop(), name="job-leases")

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
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

    def notice(self, payload: str) -> None:
        """Another replica said something (PostgreSQL NOTIFY): jobs may be due; "cancel": one may be ours."""
        self._wake.set()
        if payload == "cancel" and self._tasks:  # is one of the jobs running here the one cancelled?
            task = asyncio.get_running_loop().create_task(self.renew())
            self._notices.add(task)
            task.add_done_callback(self._notices.discard)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.claims.lease / 3)
            await self.renew()

    async def renew(self) -> None:
        """Extend the leases of the jobs running here; stop those that are no longer this replica's (cancelled
        by another replica, or taken by one after the lease lapsed)."""
        ids = list(self._tasks)
        if not ids:
            return
        try:
            kept = await self.db.write(lambda conn: self.claims.renew(conn, ids, time.time()))
        except Exception:
            log.exception("renewing job leases failed")
            return
        for job_id in ids:
            task = self._tasks.get(job_id)
            if job_id not in kept and task is not None:
                log.warning("job %d is no longer this replica's (cancelled or taken over): stopping it", job_id)
                task.cancel()

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

        wants = [(k, free[k], self._kinds[k].fair) for k in wanted]

        def claim(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], float | None]:
            return self.claims.claim(conn, wants, now), self.claims.next_due(conn, list(self._kinds))

        rows, next_at = await self.db.write(claim)
        for row in rows:
            job = Job(row["id"], row["kind"], row["key"], json.loads(row["payload"]), row["attempts"],
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
            current = conn.execute("SELECT state, key, claimed_by FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is None or current["state"] == "cancelled":
                return  # cancelled while running: the cancel wins
            if self.claims.leased and current["claimed_by"] != self.claims.owner:
                return  # its lease lapsed and another replica claimed it: that one finishes it
            if state == "queued" and keyed is not None and current["key"] is None:
                # a newer job took this key while this one ran: it supersedes the retry
                conn.execute("UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ?", (now, job_id))
                return
            conn.execute(
                "UPDATE jobs SET state = ?, run_at = coalesce(?, run_at), error = ?, updated_at = ?,"
                " lease_until = NULL, payload = coalesce(?, payload),"
                " attempts = CASE WHEN ? = 1 THEN 0 ELSE attempts END WHERE id = ?",
                (
                    state,
                    now + after if after is not None else None,
                    error,
                    now,
                    json.dumps(payload) if payload is not None else None,
                    int(reset_attempts),
                    job_id,
                ),
            )

        await self.db.write(work)


def _unique_violation(exc: BaseException) -> bool:
    """Another replica inserted the same live key between this one's look and its insert."""
    return isinstance(exc, sqlite3.IntegrityError) or getattr(exc, "sqlstate", None) == "23505"


async def _retrying(write: Callable[[], Awaitable[T]]) -> T:
    """A keyed write again after a unique violation: the second look sees the other replica's job."""
    for _ in range(3):
        try:
            return await write()
        except Exception as exc:
            if not _unique_violation(exc):
                raise
    return await write()
