"""The durable job queue: limits, retries, keyed replacement, cancellation of a running job, recovery."""

from __future__ import annotations

import asyncio

from bot.dispatch.jobs import Job, JobQueue, Retry
from bot.store.db import Database, open_database
from bot.store.migrations import MIGRATIONS


async def open_queue(database_url: str) -> tuple[Database, JobQueue]:
    db = await open_database(database_url, MIGRATIONS)
    return db, JobQueue(db, idle_poll=0.05)


async def test_runs_jobs_with_a_concurrency_limit_per_kind(database_url: str) -> None:
    db, queue = await open_queue(database_url)
    running = 0
    peak = 0
    done: list[int] = []

    async def runner(job: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        done.append(job.payload["n"])

    queue.register("validation", runner, concurrency=2)
    await queue.start()
    try:
        for n in range(8):
            await queue.enqueue("validation", {"n": n})
        await queue.wait_idle(10)
    finally:
        await queue.stop()
    assert sorted(done) == list(range(8))
    assert peak == 2
    assert await queue.count("done") == 8
    await db.close()


async def test_retry_reschedules_and_a_keyed_enqueue_replaces_the_queued_job(database_url: str) -> None:
    db, queue = await open_queue(database_url)
    seen: list[int] = []

    async def poll(job: Job) -> Retry | None:
        seen.append(job.payload["step"])
        if job.payload["step"] < 3:
            return Retry(after=0.0, payload={"step": job.payload["step"] + 1})
        return None

    queue.register("poll", poll)
    # the second enqueue replaces the first (same key, still queued)
    await queue.enqueue("poll", {"step": 0}, key="run:1", delay=60)
    await queue.enqueue("poll", {"step": 1}, key="run:1")
    await queue.start()
    try:
        await queue.wait_idle(10)
    finally:
        await queue.stop()
    assert seen == [1, 2, 3]
    await db.close()


async def test_failures_retry_then_fail(database_url: str) -> None:
    db, queue = await open_queue(database_url)
    attempts: list[int] = []

    async def broken(job: Job) -> None:
        attempts.append(job.attempts)
        raise RuntimeError("nope")

    queue.register("x", broken, max_attempts=1)
    await queue.start()
    try:
        job_id = await queue.enqueue("x", {})
        await queue.wait_idle(10)
    finally:
        await queue.stop()
    job = await queue.get(job_id)
    assert job is not None and job["state"] == "failed" and "nope" in job["error"]
    assert attempts == [1]
    await db.close()


async def test_cancel_stops_a_running_job_at_once(database_url: str) -> None:
    db, queue = await open_queue(database_url)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    queue.register("validation", slow)
    await queue.start()
    try:
        job_id = await queue.enqueue("validation", {}, key="pr:1")
        await asyncio.wait_for(started.wait(), 5)
        assert await queue.cancel("pr:1")
        await asyncio.wait_for(cancelled.wait(), 1)
        await queue.wait_idle(5)
    finally:
        await queue.stop()
    job = await queue.get(job_id)
    assert job is not None and job["state"] == "cancelled"
    assert not await queue.cancel("pr:1")
    await db.close()


async def test_jobs_interrupted_by_a_stop_run_again_after_restart(database_url: str) -> None:
    db, queue = await open_queue(database_url)
    started = asyncio.Event()

    async def hang(job: Job) -> None:
        started.set()
        await asyncio.sleep(60)

    queue.register("validation", hang)
    await queue.start()
    job_id = await queue.enqueue("validation", {"sha": "abc"})
    await asyncio.wait_for(started.wait(), 5)
    await queue.stop()  # like a crash: the job is still 'running' in the store
    job = await queue.get(job_id)
    assert job is not None and job["state"] == "running"

    queue2 = JobQueue(db, idle_poll=0.05)
    ran: list[str] = []

    async def finish(job: Job) -> None:
        ran.append(job.payload["sha"])

    queue2.register("validation", finish)
    await queue2.start()
    try:
        await queue2.wait_idle(10)
    finally:
        await queue2.stop()
    assert ran == ["abc"]
    await db.close()
