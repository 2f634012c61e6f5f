"""pytest fixtures (registered in tests/conftest.py): the store on both backends, SQLite and a real PostgreSQL.

postgres_server  the admin URL of a PostgreSQL server (session-scoped): TEST_DATABASE_URL, default
                 postgresql://codegen:codegen@127.0.0.1:5432/codegen, the role and server that
                 `scripts/ensure-postgres.sh` makes. When it does not answer, the script is run once (it
                 installs, starts and creates what is missing). Still unreachable: the test is skipped on a
                 developer's machine and FAILS when CI=true.
database_url     parametrized ["sqlite", "postgresql"]: a fresh SQLite file in the test's tmp_path, or a fresh
                 database on the server (created for the test, dropped after it).
database         the store opened on `database_url` with every migration, closed after the test.
postgres_url     a fresh database on the server alone (tests of the bot running on PostgreSQL).
A test that takes either runs once per backend: the shared store and queue suite.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import pytest_asyncio

from bot.store.db import Database, open_database
from bot.store.migrations import MIGRATIONS
from tests.support.required import unavailable

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_URL = "postgresql://codegen:codegen@127.0.0.1:5432/codegen"
BACKENDS = ["sqlite", "postgresql"]


def _answers(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL
    why = _answers(url)
    if why is not None:
        run = subprocess.run([str(ROOT / "scripts" / "ensure-postgres.sh")], capture_output=True, text=True)
        why = _answers(url)
        if why is not None:
            reason = f"{why}; scripts/ensure-postgres.sh exited {run.returncode}: {run.stderr[-2000:]}"
            unavailable(f"PostgreSQL unavailable: {reason}", in_ci=f"PostgreSQL is required in CI: {reason}")
    return url


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped afterwards."""
    name = f"codegen_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield with_database(server, name)
    finally:
        _drop(server, name)


def _drop(server: str, name: str) -> None:
    """Drop a test's database. FORCE ends the connections a failed test left open; where it may not (an
    autovacuum worker, for a role without pg_signal_backend), a plain DROP waits the worker out. A database
    that cannot be dropped is left behind with a warning, never failing the test."""
    statements = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', *[f'DROP DATABASE IF EXISTS "{name}"'] * 3]
    why = "still in use"
    with psycopg.connect(server, autocommit=True) as admin:
        for statement in statements:
            try:
                admin.execute(statement)  # type: ignore[arg-type]
                return
            except (psycopg.errors.ObjectInUse, psycopg.errors.InsufficientPrivilege) as exc:
                why = str(exc).strip()
    warnings.warn(f"test database {name} left behind: {why}", stacklevel=1)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh database on the server, for a test that is about PostgreSQL only."""
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = await open_database(database_url, MIGRATIONS)
    try:
        yield db
    finally:
        await db.close()
