"""The retention sweep of the store, on a real SQLite file and a real PostgreSQL database: rows written by the
stores themselves, some aged past the retention; the sweep removes the old ended ones and keeps the new ones and
what live work names."""

from __future__ import annotations

import time

import pytest

from bot.dispatch.jobs import JobQueue
from bot.store.agent_runs import AgentRunStore
from bot.store.db import Database
from bot.store.deliveries import MAX_ATTEMPTS, DeliveryStore, IncomingDelivery
from bot.store.retention import StoreRetention, store_size
from bot.store.validations import ValidationStore
from validators.retention import DAY, cutoff

REPO = "octo-org/app"


@pytest.fixture
def db(database: Database) -> Database:
    """The store on each backend (tests/support/postgres_fixtures.py): SQLite, then PostgreSQL."""
    return database


async def age(db: Database, table: str, key: object, days: float = 31) -> None:
    """Move a row's times back `days` days (as if it had been written then)."""
    back = days * DAY
    columns = {"deliveries": ("received_at", "handled_at"), "jobs": ("created_at", "updated_at", "run_at"),
               "validations": ("created_at", "queued_at", "started_at", "finished_at")}[table]
    sets = ", ".join(f"{c} = {c} - ?" for c in columns)
    await db.write(lambda c: c.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*[back] * len(columns), key)))


async def ids(db: Database, table: str) -> set[object]:
    return await db.read(lambda c: {row[0] for row in c.execute(f"SELECT id FROM {table}")})


async def delivery(store: DeliveryStore, name: str, outcome: str | None) -> str:
    await store.record(IncomingDelivery(name, "issues", "opened", 7, f'{{"n":"{name}"}}'.encode(), time.time()))
    if outcome == "handled":
        await store.finish(name, [], attempt=1)
    elif outcome == "failed":
        await store.finish(name, ["boom"], attempt=MAX_ATTEMPTS)
    return name


async def job(db: Database, queue: JobQueue, payload: dict[str, object], state: str,
              delivery_id: str | None = None) -> int:
    job_id = await queue.enqueue("merge.evaluate", payload)
    await db.write(lambda c: c.execute("UPDATE jobs SET state = ?, updated_at = ?, delivery_id = ? WHERE id = ?",
                                       (state, time.time(), delivery_id, job_id)))
    return job_id


async def validation(store: ValidationStore, number: int, state: str = "done") -> str:
    record = await store.create(repo=REPO, pr_number=number, head_sha=f"{number:040x}", head_ref="f", clone_url=None,
                                installation_id=7, state="queued", trigger="test")
    if state in ("done", "cancelled"):
        await store.update(record.id, state=state, finished_at=time.time(), passed=True,
                           report={"sha": record.head_sha, "log": "x" * 2000})
    else:
        await store.update(record.id, state=state)
    return record.id


async def test_deliveries_old_handled_and_failed_go_pending_new_and_named_stay(db: Database) -> None:
    store, queue = DeliveryStore(db), JobQueue(db)
    await delivery(store, "old-handled", "handled")
    await delivery(store, "old-failed", "failed")
    kept = [await delivery(store, "new-handled", "handled"), await delivery(store, "old-pending", None),
            await delivery(store, "old-retrying", None), await delivery(store, "old-named", "handled")]
    await store.finish("old-retrying", ["once"], attempt=1)  # pending again, its next attempt later
    await job(db, queue, {"repo": REPO, "number": 1}, "running", delivery_id="old-named")
    for name in ("old-handled", "old-failed", "old-pending", "old-retrying", "old-named"):
        await age(db, "deliveries", name)

    removed = await StoreRetention(db, page=2).remove_deliveries(cutoff(time.time(), 30))

    assert removed == 2 and await ids(db, "deliveries") == set(kept)
    assert await StoreRetention(db).remove_deliveries(cutoff(time.time(), 30)) == 0  # nothing more on a second pass


async def test_jobs_old_ended_go_live_and_new_stay(db: Database) -> None:
    queue = JobQueue(db)
    old = [await job(db, queue, {"n": state}, state) for state in ("done", "failed", "cancelled")]
    live = [await job(db, queue, {"n": state}, state) for state in ("queued", "running")]
    new = await job(db, queue, {"n": "new"}, "done")
    for job_id in (*old, *live):
        await age(db, "jobs", job_id)

    assert await StoreRetention(db, page=2).remove_jobs(cutoff(time.time(), 30)) == 3
    assert await ids(db, "jobs") == {*live, new}


async def test_validations_old_ended_go_unless_live_work_or_an_open_agent_run_needs_them(db: Database) -> None:
    store, queue, runs = ValidationStore(db), JobQueue(db), AgentRunStore(db)
    gone = [await validation(store, 1), await validation(store, 2, "cancelled"), await validation(store, 3)]
    unfinished = [await validation(store, 4, "held"), await validation(store, 5, "queued"),
                  await validation(store, 6, "running")]
    named = await validation(store, 7)
    await job(db, queue, {"validation_id": named}, "queued")
    merging = await validation(store, 8)
    await job(db, queue, {"repo": REPO, "number": 8, "installation_id": 7}, "queued")
    in_thread, linked = await validation(store, 9), await validation(store, 10)
    active = await runs.create(repo=REPO, number=9, thread_kind="pr", installation_id=7, command="start",
                               requested_by="octocat", command_comment_id=1)
    await runs.link_pr(active.id, REPO, 10)
    finished = await runs.create(repo=REPO, number=3, thread_kind="pr", installation_id=7, command="start",
                                 requested_by="octocat", command_comment_id=2)
    await runs.update(finished.id, status="finished")
    new = await validation(store, 11)
    for validation_id in (*gone, *unfinished, named, merging, in_thread, linked):
        await age(db, "validations", validation_id)

    removed = await StoreRetention(db, page=3).remove_validations(cutoff(time.time(), 30))

    assert removed == 3
    assert await ids(db, "validations") == {*unfinished, named, merging, in_thread, linked, new}
    assert await ids(db, "agent_runs") == {active.id, finished.id}  # agent runs are conversation state: kept
    assert await StoreRetention(db).live_validation_ids() == {*unfinished, named}


async def test_a_backlog_larger_than_a_page_is_removed_in_many_units_and_freed_pages_are_reported(
        db: Database) -> None:
    store = DeliveryStore(db)
    for n in range(25):
        await delivery(store, f"d{n}", "failed")  # a failed one keeps its body until it is removed
        await age(db, "deliveries", f"d{n}", days=31 + n / 10)
    before = await store_size(db)
    groups = db.groups_committed

    assert await StoreRetention(db, page=4).remove_deliveries(cutoff(time.time(), 30)) == 25

    assert await ids(db, "deliveries") == set()
    assert db.groups_committed - groups >= 7  # 25 rows, 4 per unit: never one long transaction
    after = await store_size(db)
    assert after.page_size == before.page_size and after.free_pages >= 0 and after.bytes >= after.free_bytes
