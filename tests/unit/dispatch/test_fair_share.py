"""Validation slots are shared between installations (issue 12, item 12: fair share per tenant)."""

from __future__ import annotations

import asyncio

from bot.dispatch.jobs import Job, JobQueue
from bot.store.db import open_database
from bot.store.migrations import MIGRATIONS
from tests.support.eventually import eventually


async def started_order(database_url: str, *, fair: bool) -> list[str]:
    """Tenant A queues five jobs, then tenant B one; two slots. Which tenants' jobs start, in order?"""
    db = await open_database(database_url, MIGRATIONS)
    queue = JobQueue(db, idle_poll=0.05)
    started: list[str] = []
    release = asyncio.Event()

    async def runner(job: Job) -> None:
        started.append(job.payload["tenant"])
        await release.wait()

    queue.register("validation", runner, concurrency=2, fair=fair)
    for n in range(5):
        await queue.enqueue("validation", {"tenant": "A", "n": n}, tenant="A")
    await queue.enqueue("validation", {"tenant": "B"}, tenant="B")
    await queue.start()
    try:
        await eventually(lambda: len(started) >= 2, what="both slots to be taken")
        release.set()
        await queue.wait_idle(10)
    finally:
        await queue.stop()
        await db.close()
    return started


async def test_a_second_tenant_gets_a_slot_before_the_first_tenants_backlog(database_url: str) -> None:
    order = await started_order(database_url, fair=True)
    assert order[:2] == ["A", "B"]
    assert sorted(order) == ["A"] * 5 + ["B"]


async def test_without_fair_share_the_oldest_jobs_win(database_url: str) -> None:
    assert (await started_order(database_url, fair=False))[:2] == ["A", "A"]
