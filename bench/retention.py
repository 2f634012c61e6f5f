"""Retention benchmark (figures, not a test; issue 17, item 3): the store and the disk under a week of load.

A fake clock runs `--days` simulated days of steady load (tests/support/retention_load.py: deliveries and
their jobs, validations with reports and artifacts, fetches into the git caches of the repositories active
that day, a few agent runs), with the real retention sweep (entrypoints/retention.py, no Docker engine) at the
end of every simulated hour. The same load then runs again without the sweep, for comparison.

It prints, at the end of each simulated day: rows per table, the SQLite file (page_count × page_size) and how
much of it is free pages, and the artifacts' and git caches' disk use; then, for the final store, the size a
`VACUUM` would give (measured with `VACUUM INTO` a copy).

    .venv/bin/python bench/retention.py [--days 7] [--deliveries 600] [--validations 30]
                                        [--retention-days 4] [--artifact-retention-days 2]

The defaults keep 4 days (RETENTION_DAYS' minimum) and artifacts 2, so a week passes the window; with the
defaults of a deployment (30 and 14), run `--days 40`.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store.db import Database
from bot.store.migrations import MIGRATIONS
from config.settings import Settings
from tests.support.retention_load import TABLES, Footprint, Rates, SimulatedLoad

MB = 1024 * 1024


def line(day: int, footprint: Footprint, removed: dict[str, int]) -> str:
    rows = " ".join(f"{footprint.rows[t]:>7}" for t in TABLES)
    gone = sum(removed.values())
    return (f"{day:>4} {rows} {footprint.store_bytes / MB:>8.1f} {footprint.store_free_bytes / MB:>7.1f}"
            f" {footprint.artifact_dirs:>6} {footprint.artifact_bytes / MB:>8.1f} {footprint.caches:>6}"
            f" {footprint.cache_bytes / MB:>7.1f} {gone:>8}")


def header() -> str:
    names = " ".join(f"{t[:7]:>7}" for t in TABLES)
    return (f"{'day':>4} {names} {'store MB':>8} {'free MB':>7} {'arts':>6} {'arts MB':>8} {'caches':>6}"
            f" {'git MB':>7} {'removed':>8}")


async def run(root: Path, settings: Settings, rates: Rates, days: int, *, sweeping: bool) -> Footprint:
    db = await Database.open(str(root / "store.db"), MIGRATIONS)
    try:
        load = SimulatedLoad(db, root, settings, start=time.time() - days * 86400, rates=rates, sweeping=sweeping)
        await load.begin_live_work()
        print(f"\n== {'with the retention sweep every simulated hour' if sweeping else 'without the sweep'} ==")
        print(header())
        print(line(0, await load.footprint(), {}))
        footprint = await load.footprint()
        for day in range(1, days + 1):
            removed: dict[str, int] = {}
            for _ in range(24):
                for kind, count in (await load.hour()).items():
                    removed[kind] = removed.get(kind, 0) + count
            footprint = await load.footprint()
            print(line(day, footprint, removed))
        if sweeping:
            print(f"live work kept through the load: {await load.live_work_kept()}")
    finally:
        await db.close()
    vacuumed = root / "vacuumed.db"
    with sqlite3.connect(root / "store.db") as conn:
        conn.execute(f"VACUUM INTO '{vacuumed}'")
    print(f"store file {footprint.store_bytes / MB:.1f} MB, of which free pages {footprint.store_free_bytes / MB:.1f}"
          f" MB; after VACUUM it would be {vacuumed.stat().st_size / MB:.1f} MB")
    return footprint


async def main(args: argparse.Namespace) -> None:
    settings = Settings(_env_file=None, retention_days=args.retention_days,  # type: ignore[call-arg]
                        artifact_retention_days=args.artifact_retention_days)
    rates = Rates(deliveries=args.deliveries, validations=args.validations, artifact_bytes=args.artifact_bytes)
    print(f"{args.days} simulated days: {rates.deliveries} deliveries (and jobs) and {rates.validations} validations"
          f" ({rates.artifact_bytes // 1000} KB of artifacts each) an hour; RETENTION_DAYS={settings.retention_days:g},"
          f" ARTIFACT_RETENTION_DAYS={settings.artifact_retention_days:g}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as with_sweep, tempfile.TemporaryDirectory() as without:
        kept = await run(Path(with_sweep), settings, rates, args.days, sweeping=True)
        grown = await run(Path(without), settings, rates, args.days, sweeping=False)
    print(f"\nafter {args.days} days: store {kept.store_bytes / MB:.1f} MB with the sweep vs"
          f" {grown.store_bytes / MB:.1f} MB without; artifacts {kept.artifact_bytes / MB:.1f} vs"
          f" {grown.artifact_bytes / MB:.1f} MB; git caches {kept.cache_bytes / MB:.1f} vs"
          f" {grown.cache_bytes / MB:.1f} MB  ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--deliveries", type=int, default=600, help="deliveries (and their jobs) per hour")
    parser.add_argument("--validations", type=int, default=30, help="validations per hour")
    parser.add_argument("--artifact-bytes", type=int, default=20_000, help="artifacts of one validation")
    parser.add_argument("--retention-days", type=float, default=4)
    parser.add_argument("--artifact-retention-days", type=float, default=2)
    asyncio.run(main(parser.parse_args()))
