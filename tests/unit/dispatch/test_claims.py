"""Several replicas on one PostgreSQL store, at the store level: each "replica" is its own `Database` (its own
writer connection), as two `codegen-bot serve` processes are. Claims of jobs and deliveries never hand one row
to two replicas, a lapsed lease is claimed again, a live one is not stolen (not at start-up either), one
issue's deliveries are claimed one at a time and in order, and timers are one job however many replicas start."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest_asyncio

from bot.dispatch.claims import JOBS_CHANNEL, LeasedClaims
from bot.dispatch.delivery_claims import DeliveryClaims
from bot.dispatch.jobs import Job, JobQueue
from bot.store.db import Database, open_database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.delivery_keys import body_ordering_key
from bot.store.migrations import MIGRATIONS
from bot.store.pg_listen import Listener


@pytest_asyncio.fixture
async def replicas(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    first = await open_database(postgres_url, MIGRATIONS)
    second = await open_database(postgres_url, MIGRATIONS)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def claim_jobs(db: Database, claims: LeasedClaims, kind: str, room: int, fair: bool = False) -> list[int]:
    rows = await db.write(lambda conn: claims.claim(conn, [(kind, room, fair)], time.time()))
    return [int(r["id"]) for r in rows]


async def test_two_replicas_never_claim_the_same_job(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    queue = JobQueue(db_a)
    ids = {await queue.enqueue("work", {"n": n}, tenant=f"t{n % 3}") for n in range(120)}
    a, b = LeasedClaims("a"), LeasedClaims("b")
    got: dict[str, list[int]] = {"a": [], "b": []}
    for fair in (False, True):
        for _ in range(40):
            ra, rb = await asyncio.gather(claim_jobs(db_a, a, "work", 3, fair), claim_jobs(db_b, b, "work", 3, fair))
            got["a"] += ra
            got["b"] += rb
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == sorted(ids)  # every job claimed, each once
    assert got["a"] and got["b"]
    rows = await db_a.read(lambda c: c.execute("SELECT claimed_by, state, attempts FROM jobs").fetchall())
    assert {(r[1], r[2]) for r in rows} == {("running", 1)}


async def test_an_expired_job_lease_is_claimed_by_another_replica(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    queue_a = JobQueue(db_a, owner="a", lease=0.5)
    job_id = await queue_a.enqueue("work", {"x": 1})
    (claimed,) = await claim_jobs(db_a, LeasedClaims("a", lease=0.5), "work", 5)  # then replica a "dies"
    assert claimed == job_id

    ran: list[tuple[int, int]] = []
    finished = asyncio.Event()

    async def run(job: Job) -> None:
        ran.append((job.id, job.attempts))
        finished.set()

    queue_b = JobQueue(db_b, owner="b", lease=0.5, idle_poll=0.05)
    queue_b.register("work", run)
    await queue_b.start()  # start-up does not take a's job while its lease holds
    try:
        await asyncio.sleep(0.2)
        assert ran == []
        row = await queue_b.get(job_id)
        assert row is not None and (row["state"], row["claimed_by"]) == ("running", "a")
        await asyncio.wait_for(finished.wait(), 5)
        await queue_b.wait_idle(5)
    finally:
        await queue_b.stop()
    assert ran == [(job_id, 2)]  # the lapsed claim counted an attempt, as a restart does
    row = await queue_b.get(job_id)
    assert row is not None and (row["state"], row["claimed_by"], row["lease_until"]) == ("done", "b", None)


async def test_a_renewed_lease_is_not_taken_and_a_stale_finish_is_ignored(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    done = asyncio.Event()
    ran_b: list[int] = []

    async def slow(job: Job) -> None:
        await asyncio.sleep(1.2)  # longer than the lease: only renewals keep it
        done.set()

    async def other(job: Job) -> None:
        ran_b.append(job.id)

    queue_a = JobQueue(db_a, owner="a", lease=0.4, idle_poll=0.05)
    queue_b = JobQueue(db_b, owner="b", lease=0.4, idle_poll=0.05)
    queue_a.register("work", slow)
    queue_b.register("work", other)
    await queue_a.start()
    job_id = await queue_a.enqueue("work", {})
    await asyncio.sleep(0.2)
    await queue_b.start()
    try:
        await asyncio.wait_for(done.wait(), 5)
        await queue_a.wait_idle(5)
    finally:
        await queue_a.stop()
        await queue_b.stop()
    assert ran_b == []
    row = await queue_a.get(job_id)
    assert row is not None and (row["state"], row["claimed_by"]) == ("done", "a")


async def test_a_timer_scheduled_by_two_replicas_at_once_is_one_job(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    queue_a, queue_b = JobQueue(db_a, owner="a"), JobQueue(db_b, owner="b")
    for _ in range(10):
        await asyncio.gather(queue_a.schedule("reconcile", "reconcile", 60),
                             queue_b.schedule("reconcile", "reconcile", 2),
                             queue_a.enqueue("merge", {}, key="merge:1"), queue_b.enqueue("merge", {}, key="merge:1"))
    rows = await db_a.read(lambda c: c.execute("SELECT kind, state, run_at FROM jobs ORDER BY kind").fetchall())
    assert [(r[0], r[1]) for r in rows] == [("merge", "queued"), ("reconcile", "queued")]
    assert rows[1][2] < time.time() + 10  # brought forward to the earliest asked


def delivery(n: int, number: int | None, received_at: float) -> IncomingDelivery:
    data: dict[str, Any] = {"action": "created", "n": n, "repository": {"full_name": "octo-org/app"}}
    if number is not None:
        data["issue"] = {"number": number}
    return IncomingDelivery(f"d-{n}", "issue_comment", "created", 1, json.dumps(data).encode(), received_at)


async def test_one_issue_is_claimed_once_at_a_time_and_in_order(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    store_a = DeliveryStore(db_a, order_key=body_ordering_key)
    store_b = DeliveryStore(db_b, order_key=body_ordering_key)
    start = time.time()
    numbers = [1, 2, 3, None]
    for n in range(60):
        assert await store_a.record(delivery(n, numbers[n % 4], start + n / 1000))
    claims = {"a": (DeliveryClaims(db_a, "a", 30), store_a), "b": (DeliveryClaims(db_b, "b", 30), store_b)}
    order: dict[str, list[int]] = {}
    seen: dict[str, int] = {"a": 0, "b": 0}
    for _ in range(100):
        batches = await asyncio.gather(*(c.claim(4) for c, _ in claims.values()))
        claimed = [d for batch in batches for d in batch]
        if not claimed:
            break
        keys = [body_ordering_key(d.body) for d in claimed]
        keyed = [k for k in keys if k is not None]
        assert len(keyed) == len(set(keyed)), f"two deliveries of one issue in flight at once: {keys}"
        assert len({d.id for d in claimed}) == len(claimed)
        for name, batch in zip(claims, batches, strict=True):
            seen[name] += len(batch)
            for d in batch:
                order.setdefault(str(body_ordering_key(d.body)), []).append(int(d.id.split("-")[1]))
                await claims[name][1].finish(d.id, [], 1)
    assert sum(seen.values()) == 60 and seen["a"] and seen["b"]
    for key, ids in order.items():
        if key != "None":
            assert ids == sorted(ids), f"{key} handled out of order: {ids}"


async def test_an_expired_delivery_lease_is_claimed_again_before_its_issue_moves_on(
        replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    store = DeliveryStore(db_a, order_key=body_ordering_key)
    now = time.time()
    await store.record(delivery(1, 7, now))
    await store.record(delivery(2, 7, now + 0.001))
    (first,) = await DeliveryClaims(db_a, "a", 0.5).claim(10)  # replica a claims it, then "dies"
    assert first.id == "d-1"
    b = DeliveryClaims(db_b, "b", 30)
    assert await b.claim(10) == []  # d-1 is leased, d-2 waits behind it
    await asyncio.sleep(0.6)
    (again,) = await b.claim(10)
    assert again.id == "d-1"
    assert await b.claim(10) == []
    await store.finish("d-1", [], 1, owner="a")  # a, back from the dead, no longer holds it: nothing changes
    assert await DeliveryStore(db_b).load("d-1") is not None
    await DeliveryStore(db_b).finish("d-1", [], 1, owner="b")
    (after,) = await b.claim(10)
    assert after.id == "d-2"


async def test_a_claim_takes_each_issue_s_oldest_due_delivery_and_a_retry_does_not_hold_its_issue_back(
        replicas: tuple[Database, Database]) -> None:
    db, _ = replicas
    store = DeliveryStore(db, order_key=body_ordering_key)
    now = time.time()
    for n, number in enumerate([5, 5, 9, None, 9, None, 5]):
        await store.record(delivery(n, number, now + n / 1000))
    claims = DeliveryClaims(db, "a", 30)
    first = await claims.claim(10)  # issue 5's d-0, issue 9's d-2, and both without an issue, oldest first
    assert [d.id for d in first] == ["d-0", "d-2", "d-3", "d-5"]
    assert await claims.claim(10) == []  # the rest wait behind a lease of their issue
    assert await store.finish("d-0", ["boom"], 1, owner="a") == "pending"  # d-0 waits 30 s for its retry
    (second,) = await claims.claim(10)
    assert second.id == "d-1"  # a retry does not hold its issue back (as in one process)
    await store.finish("d-2", [], 1, owner="a")
    assert [d.id for d in await claims.claim(1)] == ["d-4"]  # the limit holds


async def test_two_replicas_storing_one_delivery_id_at_once_store_it_once(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    store_a, store_b = DeliveryStore(db_a), DeliveryStore(db_b)
    for n in range(20):
        same = delivery(100 + n, n, time.time())
        outcomes = await asyncio.gather(store_a.record(same), store_b.record(same))
        assert sorted(outcomes) == [False, True]  # one stores it, the other answers "duplicate"
    count = await db_a.read(lambda c: c.execute("SELECT count(*) FROM deliveries").fetchone()[0])
    assert count == 20


async def test_notify_wakes_another_replica_and_its_cancel_stops_a_running_job(
        postgres_url: str, replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    started, stopped = asyncio.Event(), asyncio.Event()

    async def hang(job: Job) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    queue_a = JobQueue(db_a, owner="a", idle_poll=30)  # no polling to speak of: only NOTIFY wakes it in time
    queue_b = JobQueue(db_b, owner="b", idle_poll=30)
    queue_a.register("validation", hang)
    listener = Listener(postgres_url, {JOBS_CHANNEL: queue_a.notice})
    listener.start()
    await asyncio.to_thread(listener.connected.wait, 5)
    await queue_a.start()
    try:
        await asyncio.sleep(0.2)  # queue a is asleep for its idle poll
        job_id = await queue_b.enqueue("validation", {}, key="pr:1")  # queued on replica b
        await asyncio.wait_for(started.wait(), 3)
        assert await queue_b.cancel("pr:1")  # cancelled on replica b, running on replica a
        await asyncio.wait_for(stopped.wait(), 3)
    finally:
        await queue_a.stop()
        await listener.stop()
    row = await queue_b.get(job_id)
    assert row is not None and row["state"] == "cancelled"


async def test_a_write_that_deadlocks_with_another_replica_is_run_again(replicas: tuple[Database, Database]) -> None:
    db_a, db_b = replicas
    queue = JobQueue(db_a)
    one, two = await queue.enqueue("work", {}), await queue.enqueue("work", {})
    barrier = threading.Barrier(2, timeout=10)

    def crossing(first: int, second: int) -> Callable[[Any], bool]:
        calls = 0

        def work(conn: Any) -> bool:
            nonlocal calls
            calls += 1
            conn.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = ?", (first,))
            if calls == 1:  # both replicas hold their first row: each now waits for the other's
                barrier.wait()
            conn.execute("UPDATE jobs SET attempts = attempts + 1 WHERE id = ?", (second,))
            return True

        return work

    assert await asyncio.gather(db_a.write(crossing(one, two)), db_b.write(crossing(two, one))) == [True, True]
    rows = await db_a.read(lambda c: c.execute("SELECT attempts FROM jobs ORDER BY id").fetchall())
    assert [r[0] for r in rows] == [2, 2]  # the aborted attempt left nothing; its rerun did both
