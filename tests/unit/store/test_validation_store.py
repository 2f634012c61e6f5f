"""The validation store's exactly-once bookkeeping (issue 14): check-run ids and the job in one transaction,
what is reported per stage, and what the reconciler asks it."""

from __future__ import annotations

import json
import sqlite3
import time

import psycopg
import pytest

from bot.dispatch.jobs import JobQueue
from bot.store.db import Database
from bot.store.validations import JOB_KIND, QueuedJob, ValidationRecord, ValidationStore

REPO = "octo-org/app"


@pytest.fixture
def store(database: Database) -> ValidationStore:
    return ValidationStore(database)


async def record(store: ValidationStore, sha: str = "a" * 40, number: int = 1) -> ValidationRecord:
    return await store.create(repo=REPO, pr_number=number, head_sha=sha, head_ref="f", clone_url=None,
                              installation_id=7, state="queued", trigger="t")


def job_for(validation: ValidationRecord, key: str = f"validation:{REPO}#1") -> QueuedJob:
    return QueuedJob(JOB_KIND, {"validation_id": validation.id}, key, "7")


async def jobs(store: ValidationStore) -> list[tuple[str, str | None, str]]:
    return await store.db.read(lambda c: [(json.loads(r[0])["validation_id"], r[1], r[2]) for r in c.execute(
        "SELECT payload, key, state FROM jobs ORDER BY id")])


async def test_ids_and_job_are_stored_together_and_a_live_job_is_never_doubled(store: ValidationStore) -> None:
    v = await record(store)
    assert await store.without_live_job() == [v]
    saved, queued = await store.record_check_runs(v.id, {"build": 11}, {"web-eval": "skipped"}, job_for(v))
    assert queued and saved.check_runs == {"build": 11} and saved.reported == {"web-eval": "skipped"}
    assert await jobs(store) == [(v.id, f"validation:{REPO}#1", "queued")]
    assert await store.has_live_job(v.id) and not await store.job_running(v.id)
    assert await store.without_live_job() == []
    _, again = await store.record_check_runs(v.id, {"build": 11}, {}, job_for(v))  # a repair found it live
    assert not again and len(await jobs(store)) == 1


async def test_a_failing_job_insert_rolls_back_the_ids(store: ValidationStore) -> None:
    v = await record(store)
    broken = QueuedJob(JOB_KIND, {"validation_id": v.id}, None, None, delivery_id=None)
    await store.db.write(lambda c: c.execute("DROP TABLE jobs"))
    with pytest.raises((sqlite3.OperationalError, psycopg.Error)):
        await store.record_check_runs(v.id, {"build": 11}, {}, broken)
    after = await store.get(v.id)
    assert after is not None and after.check_runs == {}  # one transaction: neither was stored


async def test_the_job_takes_over_the_key_like_the_queue_does(store: ValidationStore) -> None:
    older, newer = await record(store, "a" * 40), await record(store, "b" * 40)
    await store.record_check_runs(older.id, {"build": 1}, {}, job_for(older))
    await store.db.write(lambda c: c.execute("UPDATE jobs SET state = 'running'"))
    assert await store.job_running(older.id)
    await store.record_check_runs(newer.id, {"build": 2}, {}, job_for(newer))
    assert await jobs(store) == [(older.id, None, "running"), (newer.id, f"validation:{REPO}#1", "queued")]
    queue = JobQueue(store.db)
    assert await queue.count("queued", JOB_KIND) == 1


async def test_reported_stages_are_merged_and_open_check_runs_found(store: ValidationStore) -> None:
    v = await record(store)
    await store.record_check_runs(v.id, {"build": 1, "test": 2}, {}, None)
    await store.mark_reported(v.id, {"build": "sending"})
    await store.mark_reported(v.id, {"build": "success"})
    await store.update(v.id, state="done", finished_at=time.time() - 120)
    legacy = await record(store, "c" * 40, 2)
    await store.update(legacy.id, state="done", check_runs={"build": 3}, reported=None, finished_at=time.time() - 120)
    found = await store.with_open_check_runs(ended_before=time.time() - 60, ended_after=time.time() - 3600)
    assert [(r.id, r.reported) for r in found] == [(v.id, {"build": "success"})]  # test (2) was never concluded
    await store.mark_reported(v.id, {"test": "cancelled"})
    assert await store.with_open_check_runs(ended_before=time.time(), ended_after=0) == []
    assert await store.active_repos(time.time() - 60) == [(REPO, 7)]
    assert await store.known_shas(REPO, ["a" * 40, "z" * 40]) == {"a" * 40}
