"""Batched writes (`Database.write_batched`), on both backends: the deliveries that arrive during one group
commit are stored by one INSERT in the next, each caller still gets its own answer (a redelivery or a replay
in the same batch is refused, not stored twice), and an item that makes the batch fail fails alone."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from bot.store.db import Database
from bot.store.deliveries import DeliveryStore, IncomingDelivery

T = TypeVar("T")


@asynccontextmanager
async def writer_held(database: Database) -> AsyncIterator[threading.Event]:
    """Every writer thread busy in a unit of work until the event is set: what is queued meanwhile is one group
    (PostgreSQL's batch writers, `Database.batch_writers`, are held by a batched unit each)."""
    release = threading.Event()
    entered: list[threading.Event] = []

    def holder() -> Any:
        event = threading.Event()
        entered.append(event)

        def hold(conn: Any, items: Any = None) -> Any:
            event.set()
            release.wait(30)
            return [None] * len(items) if items is not None else None

        return hold

    held = [asyncio.ensure_future(database.write(holder()))]
    await asyncio.to_thread(entered[-1].wait, 30)
    for n in range(database.batch_writers):  # one at a time: each goes to a batch writer not yet held
        held.append(asyncio.ensure_future(database.write_batched(f"hold-{n}", None, holder())))
        await asyncio.to_thread(entered[-1].wait, 30)
    try:
        yield release
    finally:
        release.set()
        await asyncio.gather(*held)


def waiting(database: Database) -> int:
    queues = {id(q): q for q in (database._queue, database._batch_queue)}
    return sum(q.qsize() for q in queues.values())


async def queued(database: Database, count: int, calls: list[Awaitable[T]]) -> list[asyncio.Task[T]]:
    """Start `calls` and wait until the writers' queues hold `count` entries (they will be one group each)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    for _ in range(500):
        if waiting(database) >= count:
            return tasks
        await asyncio.sleep(0.01)
    raise AssertionError(f"{waiting(database)} writes queued, expected {count}")


def incoming(id: str, body: bytes, event: Any = "issues") -> IncomingDelivery:
    return IncomingDelivery(id, event, "opened", 1, body, time.time())


async def test_deliveries_that_arrive_together_are_one_insert_and_each_is_answered(database: Database) -> None:
    store = DeliveryStore(database)
    inserts: list[int] = []
    store_rows = store._store_rows
    store._store_rows = lambda conn, rows: inserts.append(len(rows)) or store_rows(conn, rows)  # type: ignore[method-assign]
    deliveries = [incoming(f"d{n}", b'{"n": %d}' % n) for n in range(30)]
    deliveries += [incoming("d5", b'{"n": 5}'), incoming("replay", b'{"n": 3}')]  # a redelivery, a replay
    async with writer_held(database) as release:
        groups = database.groups_committed
        tasks = await queued(database, len(deliveries), [store.record(d) for d in deliveries])
        release.set()
        answers = await asyncio.gather(*tasks)
    assert answers == [True] * 30 + [False, False]
    assert database.groups_committed - groups == 2 + database.batch_writers  # the held units', then one
    assert inserts == [32]  # by one statement
    count = await database.read(lambda c: c.execute("SELECT count(*) FROM deliveries").fetchone()[0])
    assert count == 30
    assert await store.record(incoming("d7", b'{"n": 7}')) is False  # stored already, by the batch


async def test_a_batch_that_fails_is_run_again_item_by_item_and_only_the_bad_item_fails(database: Database) -> None:
    calls: list[list[str]] = []

    def run(conn: Any, items: list[str]) -> list[str]:
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async with writer_held(database) as release:
        tasks = await queued(database, 4, [
            database.write_batched("letters", "a", run),
            database.write(lambda conn: "plain"),
            database.write_batched("letters", "bad", run),
            database.write_batched("letters", "b", run),
        ])
        release.set()
        answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert answers[:2] == ["A", "plain"] and answers[3] == "B"
    assert isinstance(answers[2], ValueError)
    assert calls == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]


async def test_a_delivery_the_store_refuses_fails_alone_and_its_batch_is_stored(database: Database) -> None:
    store = DeliveryStore(database)
    broken = incoming("broken", b'{"x": 0}', event=None)  # the store requires an event: NOT NULL
    async with writer_held(database) as release:
        tasks = await queued(database, 3, [
            store.record(incoming("x1", b'{"x": 1}')), store.record(broken), store.record(incoming("x2", b'{"x": 2}')),
        ])
        release.set()
        answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], Exception)
    ids = await database.read(lambda c: [r[0] for r in c.execute("SELECT id FROM deliveries ORDER BY id").fetchall()])
    assert ids == ["x1", "x2"]


async def test_the_handling_s_writes_of_one_group_are_batched_and_each_keeps_its_meaning(database: Database) -> None:
    store = DeliveryStore(database)
    for n in (1, 2, 3):
        assert await store.record(incoming(f"h{n}", b'{"h": %d}' % n))
    await database.write(lambda c: c.execute("UPDATE deliveries SET claimed_by = 'b' WHERE id = 'h2'"))
    async with writer_held(database) as release:
        tasks = await queued(database, 7, [
            store.start_attempt("h1"), store.start_attempt("h1"),  # two attempts: both counted
            store.callback_done("h1", "b"), store.callback_done("h1", "a"), store.callback_done("h3", "a"),
            store.finish("h2", [], 1, owner="a"),  # replica b holds h2: a's finish changes nothing
            store.finish("h3", [], 1),
        ])
        release.set()
        answers = await asyncio.gather(*tasks)
    assert answers[-2:] == ["handled", "handled"]
    rows = await database.read(lambda c: {r[0]: (r[1], r[2], r[3]) for r in c.execute(
        "SELECT id, attempts, done_callbacks, state FROM deliveries").fetchall()})
    assert rows == {"h1": (2, '["a", "b"]', "pending"), "h2": (0, "[]", "pending"), "h3": (0, '["a"]', "handled")}


async def test_callbacks_of_one_delivery_completing_at_once_are_all_recorded(database: Database) -> None:
    """On PostgreSQL two batch writers may each take one of them: each reads the list under a row lock, so the
    second sees the first's commit (without the lock, one completion was lost and its callback would run again)."""
    store = DeliveryStore(database)
    ids = [f"c{n}" for n in range(40)]
    for delivery_id in ids:
        assert await store.record(incoming(delivery_id, delivery_id.encode()))
    names = ["alpha", "beta", "gamma", "delta"]

    async def done_later(delivery_id: str, name: str, delay: float) -> None:
        await asyncio.sleep(delay)  # spread over many group commits, and so over both batch writers
        await store.callback_done(delivery_id, name)

    await asyncio.gather(*(done_later(i, name, (n % 7) * 0.0007 + k * 0.0003)
                           for n, i in enumerate(ids) for k, name in enumerate(names)))
    rows = await database.read(lambda c: c.execute("SELECT done_callbacks FROM deliveries").fetchall())
    assert [row[0] for row in rows] == ['["alpha", "beta", "delta", "gamma"]'] * len(ids)
