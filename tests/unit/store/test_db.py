"""The store: group commit, unit isolation, durability across reopen, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.store.db import Database

SCHEMA = ["CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"]


async def test_concurrent_writes_commit_in_groups(tmp_path: Path) -> None:
    db = await Database.open(str(tmp_path / "s.db"), SCHEMA)
    try:

        def put(i: int) -> Callable[[sqlite3.Connection], int]:
            return lambda conn: conn.execute("INSERT INTO t VALUES (?, ?)", (f"k{i}", i)).rowcount

        results = await asyncio.gather(*(db.write(put(i)) for i in range(500)))
        assert results == [1] * 500
        assert db.units_committed == 500
        # 500 writes queued at once cannot each have had their own commit
        assert db.groups_committed < 500
        count = await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0])
        assert count == 500
    finally:
        await db.close()


async def test_a_failing_unit_is_rolled_back_alone(tmp_path: Path) -> None:
    db = await Database.open(str(tmp_path / "s.db"), SCHEMA)
    try:

        def bad(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES ('bad', 1)")
            raise ValueError("boom")

        good = db.write(lambda c: c.execute("INSERT INTO t VALUES ('good', 2)"))
        failing = db.write(bad)
        results = await asyncio.gather(good, failing, return_exceptions=True)
        assert isinstance(results[1], ValueError)
        rows = await db.read(lambda c: [r[0] for r in c.execute("SELECT k FROM t")])
        assert rows == ["good"]
    finally:
        await db.close()


async def test_committed_writes_survive_reopen_and_migrations_run_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    db = await Database.open(path, SCHEMA)
    await db.write(lambda c: c.execute("INSERT INTO t VALUES ('x', 1)"))
    await db.close()
    db = await Database.open(path, [*SCHEMA, "CREATE TABLE u (a INTEGER)"])
    try:
        assert await db.read(lambda c: c.execute("SELECT v FROM t WHERE k='x'").fetchone()[0]) == 1
        version = await db.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        assert version == 2
        mode = await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
        assert mode == "wal"
        assert await db.reachable()
    finally:
        await db.close()


async def test_open_fails_loudly_on_a_bad_migration(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await Database.open(str(tmp_path / "s.db"), ["CREATE TABLE oops ("])
