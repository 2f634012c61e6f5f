"""The store: SQLite with one writer thread that commits in groups.

Durability: the database runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a
process crash (kill -9) and a power cut. Every `write()` returns only after the transaction that carried it
has committed.

Group commit: writes are queued to a single writer thread. The thread takes everything that is queued,
runs each unit of work inside its own SAVEPOINT (a unit that raises is rolled back alone and its caller gets
the exception), then commits once for the whole group. Under load a group holds hundreds of deliveries and
costs one fsync; when idle a group holds one write and the latency is one commit.

Reads run on a second thread with its own connection (WAL lets readers run beside the writer).

Backends: `open_database(url, migrations)` picks the store by `DATABASE_URL`'s scheme: `sqlite:///PATH` this
class, `postgresql://...` `bot.store.postgres.PostgresDatabase`, a subclass with the same writer thread, group
commit and API (see that module for why). Store modules write SQL both accept (`?` placeholders,
`INSERT ... ON CONFLICT`, `RETURNING`, no SQLite-only functions) and branch on `db.dialect` only where the
two cannot share a statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]

#: values bound in one `IN (...)` list: well under SQLite's limit of bound parameters
IN_LIST_SIZE = 500


def in_lists(values: Sequence[T]) -> Iterator[tuple[Sequence[T], str]]:
    """`values` in slices of at most `IN_LIST_SIZE`, each with its placeholders (`?,?,…`) for `IN (...)`."""
    for start in range(0, len(values), IN_LIST_SIZE):
        chunk = values[start : start + IN_LIST_SIZE]
        yield chunk, ",".join("?" * len(chunk))

log = logging.getLogger(__name__)

#: most units of work in one commit; bounds the time a caller waits behind a large group
MAX_GROUP = 512

_STOP = object()


@dataclass(frozen=True)
class Batched:
    """One item of a batched write (`Database.write_batched`): the items of one `kind` that a group holds run
    as one call, `run(conn, items)`, which returns one result per item, in order. A statement per group instead
    of one per unit: on PostgreSQL every statement is a round trip to the server."""

    kind: str
    item: Any
    run: Callable[[Any, list[Any]], list[Any]]


def private_file(path: Path) -> None:
    """Create `path` readable by its owner only (0600, with no wider window), or tighten an existing one.

    SQLite creates the `-wal` and `-shm` files with the database file's permissions, so they follow."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class Database:
    """Async facade over one SQLite file. Use `await Database.open(path, migrations)`."""

    #: which SQL dialect `work(conn)` speaks to: "sqlite" or "postgresql"
    dialect = "sqlite"
    #: the statement that opens a group's transaction (SQLite: take the write lock at once)
    begin = "BEGIN IMMEDIATE"

    #: appended to a SELECT whose rows a batch then changes: none on SQLite (one writer at a time)
    row_lock = ""
    #: threads that commit batched writes (`write_batched`) beside the writer, each on its own connection;
    #: 0: the writer commits them (SQLite has one write lock: a second writer would only wait for it)
    batch_writers = 0

    def __init__(self, path: str) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._batch_queue = self._queue if not self.batch_writers else queue.SimpleQueue()
        self._writers: list[tuple[threading.Thread, queue.SimpleQueue[Any]]] = []
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-read")
        self._reader_local = threading.local()
        self.groups_committed = 0
        self.units_committed = 0
        self._counting = threading.Lock()  # several writer threads count

    # --- lifecycle ------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: str, migrations: Sequence[str]) -> Database:
        db = cls(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            private_file(Path(path))
        await db._start_writer(migrations)
        return db

    async def _start_writer(self, migrations: Sequence[str]) -> None:
        """Start the writer thread, which connects and migrates before it takes any work (a failure is raised),
        then the batch writers."""
        await self._start_thread("db-write", self._queue, list(migrations))
        for number in range(1, self.batch_writers + 1):
            await self._start_thread(f"db-write-batch-{number}", self._batch_queue, None)

    async def _start_thread(self, name: str, jobs: queue.SimpleQueue[Any], migrations: list[str] | None) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        thread = threading.Thread(target=self._writer_main, args=(loop, ready, jobs, migrations), name=name,
                                  daemon=True)
        thread.start()
        self._writers.append((thread, jobs))
        await ready

    async def close(self) -> None:
        for _thread, jobs in self._writers:
            jobs.put(_STOP)  # one each: a writer that takes it ends
        for thread, _jobs in self._writers:
            await asyncio.to_thread(thread.join)
        self._writers = []
        self._reader.shutdown(wait=True)

    # --- API --------------------------------------------------------------------------------
    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` in the writer thread; return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, future, loop))
        return await future

    async def write_batched(self, kind: str, item: Any, run: Callable[[Any, list[Any]], list[T]]) -> T:
        """Like `write`, for work that can be done for many callers at once: the group commit gathers the queued
        items of `kind` into one `run(conn, items)` (in its own SAVEPOINT, at the place of the first). When that
        call raises, each item is run again alone, in a transaction of its own, so one bad item fails alone."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._batch_queue.put((Batched(kind, item, run), future, loop))
        return await future

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` on the reader connection (sees everything committed so far)."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._read_call, work)

    async def reachable(self) -> bool:
        """True when the file answers a query (used by /healthz)."""
        try:
            return bool(await self.read(lambda conn: conn.execute("SELECT 1").fetchone()[0] == 1))
        except Exception:  # any driver's error: the store does not answer
            return False

    # --- threads ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _read_call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._reader_local.conn = conn
        return work(conn)

    def _writer_main(
        self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None], jobs: queue.SimpleQueue[Any],
        migrations: list[str] | None,
    ) -> None:
        conn = None
        try:
            conn = self._connect()
            if migrations is not None:
                self._migrate(conn, migrations)
        except BaseException as exc:  # surface start-up failure to the opener
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            loop.call_soon_threadsafe(ready.set_exception, exc)
            return
        loop.call_soon_threadsafe(ready.set_result, None)
        stopping = False
        while not stopping:
            first = jobs.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            conn = self._usable(conn)
            self._run_group(conn, group)
        conn.close()

    def _migrate(self, conn: Any, migrations: list[str]) -> None:
        _migrate(conn, migrations)

    def _usable(self, conn: Any) -> Any:
        """The writer's connection for the next group (a server backend replaces one that broke)."""
        return conn

    def _run_units(self, conn: Any, works: list[Work]) -> list[tuple[bool, Any]]:
        """One transaction: each unit in its own SAVEPOINT, then COMMIT. (ok, result or exception) per unit."""
        outcomes: list[tuple[bool, Any]] = []
        conn.execute(self.begin)
        for work in works:
            conn.execute("SAVEPOINT unit")
            try:
                result = work(conn)
            except Exception as exc:  # one unit's failure is its own
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE unit")
                outcomes.append((True, result))
        conn.execute("COMMIT")
        return outcomes

    def _run_group(self, conn: Any, group: list[Any]) -> None:
        works, members = _gathered([entry for entry, _future, _loop in group])
        try:
            outcomes = self._spread(conn, group, members, self._run_units(conn, works))
        except Exception as exc:  # the commit itself failed: nobody's write is durable
            log.exception("store commit failed")
            with contextlib.suppress(Exception):  # a broken connection has no transaction left to end
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            outcomes = [(False, exc) for _ in group]
        with self._counting:
            self.groups_committed += 1
            self.units_committed += len(group)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_work, future, loop), (ok, value) in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, items)
            except RuntimeError:  # loop closed: the caller is gone
                pass

    def _spread(
        self, conn: Any, group: list[Any], members: list[list[int]], outcomes: list[tuple[bool, Any]]
    ) -> list[tuple[bool, Any]]:
        """Each group entry's outcome from its work's: a batch's results go to its items in order; a batch that
        failed is run again item by item (after the group's commit, in one more transaction)."""
        spread: list[tuple[bool, Any] | None] = [None] * len(group)
        again: list[int] = []
        for indexes, (ok, value) in zip(members, outcomes, strict=True):
            if not isinstance(group[indexes[0]][0], Batched):
                spread[indexes[0]] = (ok, value)
            elif ok:
                for index, result in zip(indexes, value, strict=True):
                    spread[index] = (True, result)
            else:
                again.extend(indexes)
        if again:
            alone = [_alone(group[index][0]) for index in again]
            for index, outcome in zip(again, self._run_units(conn, alone), strict=True):
                spread[index] = outcome
        assert all(outcome is not None for outcome in spread)
        return spread  # type: ignore[return-value]


def _gathered(entries: list[Any]) -> tuple[list[Work], list[list[int]]]:
    """The works a group runs: a plain entry is its own; the `Batched` entries of one kind are one work, at the
    place of the first. With, per work, the indexes of the entries it answers."""
    members: list[list[int]] = []
    batch_at: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, Batched) and entry.kind in batch_at:
            batch_at[entry.kind].append(index)
            continue
        members.append([index])
        if isinstance(entry, Batched):
            batch_at[entry.kind] = members[-1]
    return [_work(entries, indexes) for indexes in members], members


def _work(entries: list[Any], indexes: list[int]) -> Work:
    first = entries[indexes[0]]
    if not isinstance(first, Batched):
        return first
    items = [entries[index].item for index in indexes]
    return lambda conn: first.run(conn, items)


def _alone(entry: Batched) -> Work:
    return lambda conn: entry.run(conn, [entry.item])[0]

def _resolve(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _migrate(conn: sqlite3.Connection, migrations: list[str]) -> None:
    """Apply each migration not yet applied; `user_version` counts the applied ones."""
    for index, script in enumerate(migrations, start=1):
        conn.execute("BEGIN IMMEDIATE")  # read the version under the lock: another process may migrate too
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= index:
            conn.execute("COMMIT")
            continue
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={index}")
            conn.execute("COMMIT")
        except Exception:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]


async def open_database(url: str, migrations: Sequence[str]) -> Database:
    """The store named by `url` (DATABASE_URL), migrated: `sqlite:///PATH` or `postgresql://...`."""
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PostgresDatabase  # psycopg is loaded only when PostgreSQL is used

        return await PostgresDatabase.open(url, migrations)
    if url.startswith("sqlite:///"):
        return await Database.open(url.removeprefix("sqlite:///"), migrations)
    raise ValueError("DATABASE_URL must be sqlite:///PATH or postgresql://...")
