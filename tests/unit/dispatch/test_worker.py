"""The delivery worker against a real store: isolation of failures, retries, order, overflow, restart."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from gidgethub import routing, sansio

from bot.dispatch.worker import DeliveryWorker
from bot.runtime.metrics import Metrics
from bot.store import deliveries as deliveries_module
from bot.store.db import Database, open_database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.migrations import MIGRATIONS


def incoming(i: int, event: str = "issues", number: int | None = None) -> IncomingDelivery:
    data: dict[str, Any] = {"action": "opened", "seq": i, "repository": {"full_name": "o/r"}}
    if number is not None:
        data["issue"] = {"number": number}
    return IncomingDelivery(f"d{i}", event, "opened", 1, json.dumps(data).encode(), time.time())


async def no_context(event: sansio.Event) -> tuple[Any, ...]:
    """Every callback gets `(event, None)`: these tests need no installation."""
    return (None,)


async def open_store(database_url: str) -> tuple[Database, DeliveryStore]:
    db = await open_database(database_url, MIGRATIONS)
    return db, DeliveryStore(db)


async def states(db: Database) -> dict[str, tuple[str, int, str | None]]:
    rows = await db.read(lambda c: c.execute("SELECT id, state, handled_count, error FROM deliveries").fetchall())
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def test_a_raising_handler_does_not_stop_the_others_and_is_recorded(database_url: str) -> None:
    db, store = await open_store(database_url)
    seen: list[str] = []
    router = routing.Router()

    @router.register("issues")
    async def a_fails(event: sansio.Event, ctx: Any) -> None:
        raise RuntimeError("handler exploded")

    @router.register("issues")
    async def b_works(event: sansio.Event, ctx: Any) -> None:
        seen.append(event.delivery_id)

    worker = DeliveryWorker(store=store, router=router, handler_args=no_context, metrics=Metrics())
    await worker.start()
    try:
        for i in range(3):
            assert await store.record(incoming(i))
            worker.notify(incoming(i))
        await worker.wait_idle(10)
    finally:
        await worker.stop()
    assert sorted(seen) == ["d0", "d1", "d2"]
    result = await states(db)
    for i in range(3):
        state, _handled, error = result[f"d{i}"]
        assert state == "pending"  # scheduled for a retry of the failed callback only
        assert error is not None and "handler exploded" in error
    await db.close()


async def test_retry_runs_only_the_callbacks_that_failed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliveries_module, "RETRY_DELAYS", {1: 0.0, 2: 0.0})
    db, store = await open_store(database_url)
    calls = {"flaky": 0, "steady": 0}
    router = routing.Router()

    @router.register("issues")
    async def flaky(event: sansio.Event, ctx: Any) -> None:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("transient")

    @router.register("issues")
    async def steady(event: sansio.Event, ctx: Any) -> None:
        calls["steady"] += 1

    worker = DeliveryWorker(
        store=store, router=router, handler_args=no_context, metrics=Metrics(), scan_interval=0.05
    )
    await worker.start()
    try:
        await store.record(incoming(1))
        worker.notify(incoming(1))
        await worker.wait_idle(10)
    finally:
        await worker.stop()
    assert calls == {"flaky": 2, "steady": 1}
    assert (await states(db))["d1"][:2] == ("handled", 1)
    await db.close()


async def test_gives_up_after_max_attempts(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliveries_module, "RETRY_DELAYS", {1: 0.0, 2: 0.0})
    db, store = await open_store(database_url)
    router = routing.Router()

    @router.register("issues")
    async def always(event: sansio.Event, ctx: Any) -> None:
        raise RuntimeError("permanent")

    worker = DeliveryWorker(
        store=store, router=router, handler_args=no_context, metrics=Metrics(), scan_interval=0.05
    )
    await worker.start()
    try:
        await store.record(incoming(1))
        worker.notify(incoming(1))
        await worker.wait_idle(10)
    finally:
        await worker.stop()
    state, handled, _error = (await states(db))["d1"]
    assert (state, handled) == ("failed", 0)
    assert await store.replay("d1")
    assert (await states(db))["d1"][0] == "pending"
    await db.close()


async def work_through(store: DeliveryStore, deliveries: list[IncomingDelivery], wait: float,
                       **options: Any) -> list[int]:
    """Run a worker over `deliveries` (each stored, then notified, as the intake does) until it is idle; the
    `seq` of each delivery handled, in handling order."""
    seen: list[int] = []
    router = routing.Router()

    @router.register("issues")
    async def record(event: sansio.Event, ctx: Any) -> None:
        seen.append(event.data["seq"])

    worker = DeliveryWorker(store=store, router=router, handler_args=no_context, metrics=Metrics(), **options)
    await worker.start()
    try:
        for delivery in deliveries:
            await store.record(delivery)
            worker.notify(delivery)
        await worker.wait_idle(wait)
    finally:
        await worker.stop()
    return seen


async def test_same_thread_in_order_and_overflow_spills_to_store(database_url: str) -> None:
    db, store = await open_store(database_url)
    order = await work_through(store, [incoming(i, number=7) for i in range(60)], 20,
                               concurrency=4, queue_limit=5, scan_interval=0.05)
    assert order == list(range(60))  # one thread: exactly the order received, overflow included
    assert all(s == ("handled", 1, None) for s in (await states(db)).values())
    await db.close()


async def test_a_burst_larger_than_the_queue_is_worked_off_without_waiting_for_the_scan_timer(
    database_url: str,
) -> None:
    """The queue refills from the store as it empties, not once per `scan_interval` (an hour here)."""
    db, store = await open_store(database_url)
    seen = await work_through(store, [incoming(i, number=i) for i in range(200)], 60,
                              concurrency=4, queue_limit=8, scan_interval=3600)
    assert sorted(seen) == list(range(200))
    await db.close()


async def test_pending_deliveries_are_handled_after_a_restart(database_url: str) -> None:
    db, store = await open_store(database_url)
    for i in range(10):
        await store.record(incoming(i))
    await db.close()  # the process "died" before handling anything

    db, store = await open_store(database_url)
    seen: list[str] = []
    router = routing.Router()

    @router.register("issues")
    async def record(event: sansio.Event, ctx: Any) -> None:
        seen.append(event.delivery_id)

    worker = DeliveryWorker(store=store, router=router, handler_args=no_context, metrics=Metrics())
    await worker.start()
    try:
        await worker.wait_idle(10)
    finally:
        await worker.stop()
    assert sorted(seen) == sorted(f"d{i}" for i in range(10))
    assert len(seen) == 10
    await db.close()


async def test_duplicate_ids_are_stored_once(database_url: str) -> None:
    db, store = await open_store(database_url)
    assert await store.record(incoming(1))
    assert not await store.record(incoming(1))
    assert len(await states(db)) == 1
    await db.close()
