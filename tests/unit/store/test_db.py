"""The store: group commit, unit isolation, durability across reopen, migrations (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from bot.store.db import open_database
from bot.store.postgres import redacted
from config.settings import SettingsError, load_settings

SCHEMA = ["CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"]
#: what either driver raises for bad SQL
DB_ERRORS = (sqlite3.Error, psycopg.Error)


async def test_concurrent_writes_commit_in_groups(database_url: str) -> None:
    db = await open_database(database_url, SCHEMA)
    try:

        def put(i: int) -> Callable[[Any], int]:
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


async def test_a_failing_unit_is_rolled_back_alone(database_url: str) -> None:
    db = await open_database(database_url, SCHEMA)
    try:

        def bad(conn: Any) -> None:
            conn.execute("INSERT INTO t VALUES ('bad', 1)")
            raise ValueError("boom")

        def bad_sql(conn: Any) -> None:
            conn.execute("INSERT INTO t VALUES ('bad-sql', 1)")
            conn.execute("INSERT INTO t VALUES ('good', 3)")  # a constraint fails: the unit alone is undone

        good = db.write(lambda c: c.execute("INSERT INTO t VALUES ('good', 2)"))
        failing, failing_sql = db.write(bad), db.write(bad_sql)
        after = db.write(lambda c: c.execute("INSERT INTO t VALUES ('after', 4)"))
        results = await asyncio.gather(good, failing, failing_sql, after, return_exceptions=True)
        assert isinstance(results[1], ValueError)
        assert isinstance(results[2], DB_ERRORS)
        # a failing unit first in its group (PostgreSQL rolls back and begins again rather than a SAVEPOINT)
        first = await asyncio.gather(db.write(bad), db.write(lambda c: c.execute("INSERT INTO t VALUES ('next', 5)")),
                                     return_exceptions=True)
        assert isinstance(first[0], ValueError) and not isinstance(first[1], BaseException)
        rows = await db.read(lambda c: [r[0] for r in c.execute("SELECT k FROM t ORDER BY v")])
        assert rows == ["good", "after", "next"]
    finally:
        await db.close()


async def test_committed_writes_survive_reopen_and_migrations_run_once(database_url: str) -> None:
    db = await open_database(database_url, SCHEMA)
    await db.write(lambda c: c.execute("INSERT INTO t VALUES ('x', 1)"))
    await db.close()
    db = await open_database(database_url, [*SCHEMA, "CREATE TABLE u (a INTEGER)"])
    try:
        assert await db.read(lambda c: c.execute("SELECT v FROM t WHERE k='x'").fetchone()[0]) == 1
        if db.dialect == "sqlite":
            version = await db.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
            mode = await db.read(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
            assert mode == "wal"
        else:
            version = await db.read(lambda c: c.execute("SELECT version FROM schema_version").fetchone()[0])
        assert version == 2
        assert await db.reachable()
    finally:
        await db.close()


async def test_open_fails_loudly_on_a_bad_migration(database_url: str) -> None:
    with pytest.raises(DB_ERRORS):
        await open_database(database_url, ["CREATE TABLE oops ("])


async def test_rows_are_read_by_name_and_position_and_booleans_are_integers(database_url: str) -> None:
    db = await open_database(database_url, ["CREATE TABLE f (id INTEGER PRIMARY KEY, flag INTEGER, body BLOB,"
                                            " at REAL, big INTEGER)"])
    try:
        await db.write(lambda c: c.execute("INSERT INTO f VALUES (?, ?, ?, ?, ?)", (1, True, b"\x00\xff", 1.5, 2**40)))
        row = await db.read(lambda c: c.execute("SELECT * FROM f WHERE flag = 1 AND id = ?", (1,)).fetchone())
        assert (row[0], row["flag"], bytes(row["body"]), row["at"], row["big"]) == (1, 1, b"\x00\xff", 1.5, 2**40)
        assert dict(row) == {"id": 1, "flag": 1, "body": row["body"], "at": 1.5, "big": 2**40}
        literal = await db.read(lambda c: c.execute("SELECT 'a?%' || ? FROM f", ("b",)).fetchone()[0])
        assert literal == "a?%b"  # placeholders and percent signs inside a literal are left alone
    finally:
        await db.close()


def test_database_url_names_the_backend_and_anything_else_stops_start_up() -> None:
    sqlite = load_settings(_env_file=None, database_url="sqlite:///var/bot.db")
    assert (sqlite.database_backend, sqlite.database_path) == ("sqlite", "var/bot.db")
    server = load_settings(_env_file=None, database_url="postgresql://bot:pw@db.internal:5432/codegen")
    assert server.database_backend == "postgresql"
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings(_env_file=None, database_url="mysql://bot@db/codegen")


async def test_open_database_refuses_an_unknown_scheme_and_hides_the_password() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        await open_database("mysql://bot@db/codegen", SCHEMA)
    assert redacted("postgresql://bot:s3cret@db:5432/codegen") == "postgresql://bot:***@db:5432/codegen"


async def test_postgresql_connections_that_broke_are_replaced(postgres_url: str) -> None:
    db = await open_database(postgres_url, SCHEMA)
    try:
        await db.write(lambda c: c.execute("INSERT INTO t VALUES ('before', 1)"))
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # as a server restart would
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        outcomes = []
        for n in range(3):  # the group that finds the connection broken fails; the next one reconnects
            try:
                outcomes.append(await db.write(lambda c, n=n: c.execute("INSERT INTO t VALUES (?, ?)",
                                                                         (f"after{n}", n)).rowcount))
            except psycopg.Error:
                outcomes.append(None)
        assert outcomes[-1] == 1 and outcomes.count(None) <= 1
        assert await db.reachable()
        assert await db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1 + outcomes.count(1)
    finally:
        await db.close()


async def test_postgresql_migrations_run_once_when_several_processes_open_the_store_at_once(
        postgres_url: str) -> None:
    from bot.store.migrations import MIGRATIONS

    opened = await asyncio.gather(*(open_database(postgres_url, MIGRATIONS) for _ in range(3)))
    try:  # each waited for the advisory lock; the first applied every migration, the others none
        versions = await opened[0].read(lambda c: c.execute("SELECT version FROM schema_version").fetchall())
        assert [tuple(v) for v in versions] == [(len(MIGRATIONS),)]
        tables = await opened[1].read(lambda c: c.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()").fetchone()[0])
        assert tables >= 12
    finally:
        for db in opened:
            await db.close()
