"""The worker records a delivery's progress the same way whatever its number of callbacks (issue 14), tells
the callbacks which attempt this is, and observes the delivery lag."""

from __future__ import annotations

import json
import time
from typing import Any

from gidgethub import routing, sansio

from bot.dispatch.worker import DeliveryWorker, callback_name
from bot.runtime.logs import delivery_attempt
from bot.runtime.metrics import Metrics
from bot.store.db import open_database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.migrations import MIGRATIONS


async def no_context(event: sansio.Event) -> tuple[Any, ...]:
    return (None,)


async def test_the_only_callback_of_a_delivery_is_recorded_done(database_url: str) -> None:
    db = await open_database(database_url, MIGRATIONS)
    store = DeliveryStore(db)
    router = routing.Router()
    attempts: list[int] = []

    @router.register("issues")
    async def only(event: sansio.Event, ctx: Any) -> None:
        attempts.append(delivery_attempt())

    metrics = Metrics()
    worker = DeliveryWorker(store=store, router=router, handler_args=no_context, metrics=metrics)
    stored_at = time.time() - 2.0  # stored two seconds ago
    delivery = IncomingDelivery("d1", "issues", "opened", 1, json.dumps({"action": "opened"}).encode(), stored_at)
    assert await store.record(delivery)
    await worker.start()
    try:
        worker.notify(delivery)
        await worker.wait_idle(10)
    finally:
        await worker.stop()
    row = await db.read(lambda c: c.execute("SELECT state, done_callbacks FROM deliveries").fetchone())
    assert row["state"] == "handled"
    assert json.loads(row["done_callbacks"]) == [callback_name(only)]
    assert attempts == [1]
    lag_count = metrics.registry.get_sample_value("codegen_bot_delivery_lag_seconds_count")
    lag_sum = metrics.registry.get_sample_value("codegen_bot_delivery_lag_seconds_sum")
    assert lag_count == 1 and lag_sum is not None and 2.0 <= lag_sum < 10.0
    await db.close()
