"""The periodic retention sweep: a durable job like the reconciler's, every kind's task composed, counts in
/metrics, one failing kind never stopping the others, and no Docker engine meaning no images swept."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker.errors
import pytest
import pytest_asyncio

from bot.dispatch.jobs import Job, JobQueue, Retry
from bot.runtime.retention import JOB, STARTUP_DELAY, RetentionSweep
from bot.store.db import Database
from bot.store.migrations import MIGRATIONS
from config.settings import Settings, SettingsError, load_settings
from entrypoints.retention import DockerImages, retention_sweep
from validators.git_source import GitCache
from validators.web_eval.artifacts import ArtifactStore

KINDS = {"deliveries", "jobs", "validations", "artifacts", "setup_images", "build_images", "git_caches"}


@pytest_asyncio.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(str(tmp_path / "store.db"), MIGRATIONS)
    try:
        yield database
    finally:
        await database.close()


def metric(queue: JobQueue, kind: str) -> float:
    return queue.metrics.retention_removed.labels(kind=kind)._value.get()


async def test_a_failing_kind_is_logged_and_the_others_still_run_and_count(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    queue = JobQueue(db)
    sweep = RetentionSweep(queue, every_seconds=3600, clock=lambda: 1000.0)
    seen: list[tuple[str, float]] = []

    async def broken(now: float) -> int:
        raise OSError("disk gone")

    async def removes_two(now: float) -> int:
        seen.append(("two", now))
        return 2

    sweep.add("broken", broken)
    sweep.add("two", removes_two)
    sweep.on_removed = queue.metrics.count_removed
    assert await sweep.run_once() == {"two": 2}
    assert seen == [("two", 1000.0)] and "retention sweep of broken failed" in caplog.text
    assert await sweep.run_job(Job(1, JOB, JOB, {}, 1)) == Retry(after=3600)
    assert metric(queue, "two") == 4


async def test_it_is_one_durable_job_first_run_shortly_after_start_up(db: Database) -> None:
    queue = JobQueue(db)
    sweep = RetentionSweep(queue, every_seconds=60)
    sweep.register()
    await sweep.schedule()
    await sweep.schedule()  # a second start-up finds it queued
    rows = await db.read(lambda c: c.execute("SELECT kind, key, state, run_at FROM jobs").fetchall())
    assert [(r[0], r[1], r[2]) for r in rows] == [(JOB, JOB, "queued")]
    assert rows[0][3] == pytest.approx(time.time() + STARTUP_DELAY, abs=5)


async def test_every_kind_is_swept_and_counted_and_no_engine_sweeps_no_images(
        db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def unreachable() -> docker.DockerClient:
        raise docker.errors.DockerException("no socket")

    queue = JobQueue(db)
    settings = Settings(_env_file=None, retention_sweep_minutes=5)  # type: ignore[call-arg]
    sweep = retention_sweep(settings, db, queue, GitCache(tmp_path / "git"), ArtifactStore(tmp_path / "a", b"k"),
                            engine=DockerImages(connect=unreachable))
    caplog.set_level(logging.WARNING)

    assert await sweep.run_once() == dict.fromkeys(KINDS, 0)
    assert await sweep.run_once(time.time() + 365 * 86400) == dict.fromkeys(KINDS, 0)

    assert set(sweep.tasks) == KINDS and sweep.every_seconds == 300
    assert caplog.text.count("no Docker engine reachable") == 1  # said once, not every pass
    text = queue.metrics.render().decode()
    assert all(f'codegen_bot_retention_removed_total{{kind="{kind}"}} 0.0' in text for kind in KINDS)


def test_the_settings_default_to_30_and_14_days_and_refuse_less_than_githubs_redelivery_window() -> None:
    settings = load_settings(_env_file=None)
    assert (settings.retention_days, settings.artifact_retention_days, settings.retention_sweep_minutes) == (30, 14, 60)
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings(_env_file=None, retention_days=3)  # GitHub redelivers 3 days: a redelivery must be found
    with pytest.raises(SettingsError, match="ARTIFACT_RETENTION_DAYS"):
        load_settings(_env_file=None, artifact_retention_days=0)
