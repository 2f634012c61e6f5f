"""The running bot sweeps on its own: the composition root schedules the retention sweep as a durable job at
start-up, a pass removes an old handled delivery and an old artifact and keeps a pending delivery, and
/metrics counts what each kind removed."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.runtime.retention import JOB
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually

OLD = time.time() - 31 * 86400


async def test_the_sweep_runs_in_the_bot_and_its_removals_show_in_metrics(
        start_bot: Callable[..., Awaitable[RunningBot]], tmp_path: Path) -> None:
    bot = await start_bot(artifacts_dir=tmp_path / "artifacts")
    db = bot.server.db
    assert db is not None and bot.server.jobs is not None
    await db.write(lambda c: c.executemany(
        "INSERT INTO deliveries (id, event, body, received_at, state, handled_at) VALUES (?, 'issues', ?, ?, ?, ?)",
        [("old-handled", b"", OLD, "handled", OLD), ("old-pending", b"{}", OLD, "pending", None)]))
    old_artifacts = tmp_path / "artifacts" / "old-validation"
    old_artifacts.mkdir(parents=True)
    (old_artifacts / "page.png").write_bytes(b"png")
    for path in (old_artifacts / "page.png", old_artifacts):
        os.utime(path, (OLD, OLD))
    scheduled = await db.read(lambda c: c.execute("SELECT state FROM jobs WHERE kind = ? AND key = ?",
                                                  (JOB, JOB)).fetchall())
    assert [row[0] for row in scheduled] == ["queued"]  # the first pass is due shortly after start-up

    await db.write(lambda c: c.execute("UPDATE jobs SET run_at = 0 WHERE kind = ?", (JOB,)))  # due now
    bot.server.jobs.wake()

    async def delivery_ids() -> set[str]:
        return await db.read(lambda c: {row[0] for row in c.execute("SELECT id FROM deliveries")})

    async def swept() -> bool:  # the kinds are swept one after another: wait for both
        return await _removed(bot, "deliveries") > 0 and await _removed(bot, "artifacts") > 0

    await eventually(swept, within=20, what="the sweep's pass")
    assert await delivery_ids() == {"old-pending"} and not old_artifacts.exists()
    assert await _removed(bot, "artifacts") == 1

    async def queued_again() -> float | None:  # the pass schedules the next one as it ends, after its metrics
        row = await db.read(lambda c: c.execute("SELECT run_at FROM jobs WHERE kind = ? AND state = 'queued'",
                                                (JOB,)).fetchone())
        return None if row is None else float(row[0])

    next_pass = await eventually(queued_again, within=20, what="the next pass scheduled")
    assert next_pass > time.time() + 50 * 60  # the next one in RETENTION_SWEEP_MINUTES (60)


async def _removed(bot: RunningBot, kind: str) -> float:
    async with bot.session.get(f"{bot.url}/metrics") as resp:
        text = await resp.text()
    found = re.search(rf'^codegen_bot_retention_removed_total{{kind="{kind}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0
