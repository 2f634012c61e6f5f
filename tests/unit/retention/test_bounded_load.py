"""Under a steady simulated load (tests/support/retention_load.py, a fake clock, the sweep every simulated hour),
the store's rows, the artifacts and the git caches stop growing once the retention window has passed, and
live work survives. Counts only: nothing here is timed."""

from __future__ import annotations

import time
from pathlib import Path

from bot.store.db import Database
from bot.store.migrations import MIGRATIONS
from config.settings import Settings
from tests.support.retention_load import Footprint, Rates, SimulatedLoad

RETENTION_DAYS, ARTIFACT_DAYS, DAYS = 4, 2, 9
RATES = Rates(deliveries=20, validations=2, failed_share=0.1, body_bytes=400, report_bytes=500, artifact_bytes=200,
              repos_per_day=6, new_repos_per_day=2, cache_bytes=200, agent_runs_per_day=2)


async def simulate(tmp_path: Path, *, sweeping: bool) -> tuple[list[Footprint], SimulatedLoad, Database]:
    """`DAYS` simulated days; what the store and the disk hold at the end of each."""
    db = await Database.open(str(tmp_path / "store.db"), MIGRATIONS)
    settings = Settings(_env_file=None, retention_days=RETENTION_DAYS,  # type: ignore[call-arg]
                        artifact_retention_days=ARTIFACT_DAYS)
    load = SimulatedLoad(db, tmp_path, settings, start=time.time() - DAYS * 86400, rates=RATES, sweeping=sweeping)
    await load.begin_live_work()
    days = []
    for _ in range(DAYS):
        for _ in range(24):
            await load.hour()
        days.append(await load.footprint())
    return days, load, db


async def test_rows_artifacts_and_caches_stop_growing_once_the_window_has_passed(tmp_path: Path) -> None:
    days, load, db = await simulate(tmp_path, sweeping=True)
    try:
        hours_kept = RETENTION_DAYS * 24
        for day in days[RETENTION_DAYS:]:  # from the end of day 5 on, everything older than 4 days has gone
            assert day.rows["deliveries"] == hours_kept * RATES.deliveries + 1  # + the pending one
            assert day.rows["jobs"] == hours_kept * RATES.deliveries + 1  # + the queued one
            assert day.rows["validations"] == hours_kept * RATES.validations + 2  # + queued, + an agent run's
            # the caches of the repositories fetched into within the window (the active ones move on daily)
            assert day.caches <= RATES.repos_per_day + RETENTION_DAYS * RATES.new_repos_per_day
        for day in days[ARTIFACT_DAYS:]:
            assert day.artifact_dirs == ARTIFACT_DAYS * 24 * RATES.validations + 1  # + the queued validation's
        assert days[-1].cache_bytes <= days[RETENTION_DAYS].cache_bytes
        # agent runs are conversation state: kept, one row per command (people's pace, not the webhooks')
        assert days[-1].rows["agent_runs"] == DAYS * RATES.agent_runs_per_day + 1
        # freed pages are reused: the file no longer grows with the load once the window is full
        assert days[-1].store_bytes <= days[RETENTION_DAYS].store_bytes * 1.1
        assert await load.live_work_kept()
    finally:
        await db.close()


async def test_without_the_sweep_the_same_load_keeps_growing(tmp_path: Path) -> None:
    days, _load, db = await simulate(tmp_path, sweeping=False)
    try:
        assert days[-1].rows["deliveries"] == DAYS * 24 * RATES.deliveries + 1
        assert days[-1].artifact_dirs == DAYS * 24 * RATES.validations + 1
        assert days[-1].caches > RATES.repos_per_day + RETENTION_DAYS * RATES.new_repos_per_day
        assert days[-1].store_bytes > days[RETENTION_DAYS].store_bytes
    finally:
        await db.close()
