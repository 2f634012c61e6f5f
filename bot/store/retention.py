"""Retention of the store's rows: deliveries, jobs and validations that ended more than `RETENTION_DAYS` ago.

The rules are pure functions of the rows, the cutoff and what live work names:
- `expired_deliveries`: a delivery `handled` or `failed` before the cutoff (a handled one's body was
  already emptied when it was handled; a failed one keeps its body for `codegen-bot replay` until then),
  unless a queued or running job was caused by it (its logs name it). A `pending` one is never removed.
- `expired_jobs`: a job `done`, `failed` (its attempts used up) or `cancelled` before the cutoff; a queued or
  running job is never removed.
- `expired_validations`: a validation `done` or `cancelled` before the cutoff (its report goes with it), unless
  a live job names it or its pull request, or an active agent run works on its pull request (the thread's
  own runs and the runs linked to it: auto-fix reads the report). `held`, `queued` and `running` ones are
  never removed.
Agent runs, pull-request state and ok-to-test approvals are conversation state, not swept.

`StoreRetention` applies them page by page (`PAGE` rows, oldest first, through the partial indexes of
migration 16): each page is read, decided and deleted in one unit of the writer thread, so what live work
names is read in the same transaction as the delete (nothing can start referring to a row in between), and
a large backlog is removed in many short transactions that never hold webhook intake back for long.

Deleted rows leave free pages in the SQLite file, which later rows reuse: the file stops growing once the
retention window is full, and is not shrunk (`VACUUM` rewrites the whole file under the write lock; see
docs/retention.md). `store_size` reports the file's pages and free pages. On PostgreSQL the same statements
run (without SQLite's `INDEXED BY`), and its autovacuum makes the deleted rows' space reusable.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.store.agent_runs import ACTIVE as ACTIVE_RUNS
from bot.store.db import Database, in_lists

ENDED_DELIVERIES = ("handled", "failed")
ENDED_JOBS = ("done", "failed", "cancelled")
ENDED_VALIDATIONS = ("done", "cancelled")
LIVE_JOBS = ("queued", "running")
#: rows read, decided and deleted per unit of work
PAGE = 500


@dataclass(frozen=True)
class EndedRow:
    """A row that ended: its key, its state, when it ended and (a validation) its repository and number."""

    key: Any
    state: str
    ended_at: float
    thread: tuple[str, int] | None = None


@dataclass(frozen=True)
class LiveWork:
    """What queued or running work names: never removed, whatever its age."""

    #: deliveries that caused a queued or running job
    delivery_ids: frozenset[str] = frozenset()
    #: validations a queued or running job names
    validation_ids: frozenset[str] = frozenset()
    #: (repository, issue or PR number) a live job or an active agent run works on
    threads: frozenset[tuple[str, int]] = frozenset()


def expired_deliveries(rows: Iterable[EndedRow], before: float, live: LiveWork) -> list[str]:
    return [row.key for row in rows
            if row.state in ENDED_DELIVERIES and row.ended_at < before and row.key not in live.delivery_ids]


def expired_jobs(rows: Iterable[EndedRow], before: float) -> list[int]:
    return [row.key for row in rows if row.state in ENDED_JOBS and row.ended_at < before]


def expired_validations(rows: Iterable[EndedRow], before: float, live: LiveWork) -> list[str]:
    return [row.key for row in rows
            if row.state in ENDED_VALIDATIONS and row.ended_at < before and row.key not in live.validation_ids
            and (row.thread is None or row.thread not in live.threads)]


@dataclass(frozen=True)
class StoreSize:
    """The SQLite file's pages: `bytes` is what the file holds, `free_bytes` of it is reusable."""

    page_size: int
    pages: int
    free_pages: int

    @property
    def bytes(self) -> int:
        return self.page_size * self.pages

    @property
    def free_bytes(self) -> int:
        return self.page_size * self.free_pages


async def store_size(db: Database) -> StoreSize:
    """The store's size: SQLite's file in pages (with its free pages); PostgreSQL's database in bytes."""

    def work(conn: sqlite3.Connection) -> StoreSize:
        if db.dialect == "postgresql":
            return StoreSize(1, int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]), 0)
        return StoreSize(*(int(conn.execute(f"PRAGMA {name}").fetchone()[0])
                           for name in ("page_size", "page_count", "freelist_count")))

    return await db.read(work)


def _states(states: Sequence[str]) -> str:
    return ", ".join(f"'{state}'" for state in states)


#: where a page starts: after (ended_at, key)
Cursor = tuple[float, Any]


@dataclass(frozen=True)
class _Table:
    """How one table is swept: its page of ended rows (key, state, ended_at, repo, number) older than a cutoff
    after a cursor, oldest first through its index of ended rows; its delete by key; its rule."""

    name: str
    #: its partial index of ended rows, (ended_at, key) (migration 16): SQLite is told to use it (without
    #: statistics its planner may prefer another index and sort a whole table)
    index: str
    key: str
    #: the key's least value (the first page's cursor)
    first_key: Any
    ended_at: str
    ended_states: Sequence[str]
    decide: Callable[[list[EndedRow], float, LiveWork], list[Any]]
    thread: str = "NULL AS repo, NULL AS number"

    def page_sql(self, dialect: str) -> str:
        hint = f" INDEXED BY {self.index}" if dialect == "sqlite" else ""
        return (f"SELECT {self.key} AS key, state, {self.ended_at} AS ended_at, {self.thread}"
                f" FROM {self.name}{hint} WHERE state IN ({_states(self.ended_states)})"
                f" AND {self.ended_at} < ? AND ({self.ended_at}, {self.key}) > (?, ?)"
                f" ORDER BY {self.ended_at}, {self.key} LIMIT ?")

    def delete_sql(self, count: int) -> str:
        return f"DELETE FROM {self.name} WHERE {self.key} IN ({','.join('?' * count)})"


DELIVERIES = _Table("deliveries", "deliveries_ended", "id", "", "coalesce(handled_at, received_at)",
                    ENDED_DELIVERIES, expired_deliveries)
JOBS = _Table("jobs", "jobs_ended", "id", -1, "coalesce(updated_at, created_at)", ENDED_JOBS,
              lambda rows, before, _live: expired_jobs(rows, before))
VALIDATIONS = _Table("validations", "validations_ended", "id", "", "coalesce(finished_at, queued_at)",
                     ENDED_VALIDATIONS, expired_validations, thread="repo, pr_number AS number")

#: payloads are read in Python: JSON functions differ between SQLite and PostgreSQL, and live jobs are few
_LIVE_JOBS = f"SELECT delivery_id, payload FROM jobs WHERE state IN ({_states(LIVE_JOBS)})"
_ACTIVE_RUNS = f"SELECT id, repo, number FROM agent_runs WHERE status IN ({_states(ACTIVE_RUNS)})"


def live_work(conn: sqlite3.Connection) -> LiveWork:
    """What queued and running jobs and active agent runs name (read in the sweep's own transaction)."""
    delivery_ids: set[str] = set()
    validation_ids: set[str] = set()
    threads: set[tuple[str, int]] = set()
    run_ids: set[int] = set()
    for delivery_id, payload in conn.execute(_LIVE_JOBS):
        if delivery_id:
            delivery_ids.add(str(delivery_id))
        named = _payload(payload)
        if named.get("validation_id"):
            validation_ids.add(str(named["validation_id"]))
        if isinstance(named.get("run_id"), int):
            run_ids.add(named["run_id"])
        number = named.get("number", named.get("pr_number"))
        if isinstance(named.get("repo"), str) and isinstance(number, int):
            threads.add((named["repo"], number))
    return LiveWork(frozenset(delivery_ids), frozenset(validation_ids),
                    frozenset(threads | _run_threads(conn, run_ids)))


def _run_threads(conn: sqlite3.Connection, named_runs: set[int]) -> set[tuple[str, int]]:
    """The threads of the active agent runs and of the runs live jobs name, and the pull requests linked to
    them (auto-fix resumes a run linked to a pull request)."""
    runs = {int(row[0]): (str(row[1]), int(row[2])) for row in conn.execute(_ACTIVE_RUNS)}
    missing = sorted(named_runs - set(runs))
    for chunk, marks in in_lists(missing):
        rows = conn.execute(f"SELECT id, repo, number FROM agent_runs WHERE id IN ({marks})", chunk)
        runs.update({int(row[0]): (str(row[1]), int(row[2])) for row in rows})
    threads = set(runs.values())
    ids = sorted(runs)
    for chunk, marks in in_lists(ids):
        rows = conn.execute(f"SELECT repo, pr_number FROM pr_agent_runs WHERE agent_run_id IN ({marks})", chunk)
        threads.update((str(row[0]), int(row[1])) for row in rows)
    return threads


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _sweep_page(conn: sqlite3.Connection, table: _Table, dialect: str, before: float, after: Cursor,
                page: int) -> tuple[int, Cursor | None]:
    """One unit of work: read a page of ended rows after `after`, decide, delete. Returns how many were
    deleted and the cursor of the next page (None: this was the last)."""
    rows = conn.execute(table.page_sql(dialect), (before, *after, page)).fetchall()
    if not rows:
        return 0, None
    ended = [EndedRow(row["key"], row["state"], float(row["ended_at"]),
                      None if row["repo"] is None or row["number"] is None else (row["repo"], int(row["number"])))
             for row in rows]
    keys = table.decide(ended, before, live_work(conn))
    if keys:
        conn.execute(table.delete_sql(len(keys)), keys)
    last = rows[-1]
    return len(keys), ((float(last["ended_at"]), last["key"]) if len(rows) == page else None)


class StoreRetention:
    """Removes the store's rows past their retention (the retention sweep's store part)."""

    def __init__(self, db: Database, *, page: int = PAGE) -> None:
        self.db = db
        self.page = page

    async def remove_deliveries(self, before: float) -> int:
        return await self._sweep(DELIVERIES, before)

    async def remove_jobs(self, before: float) -> int:
        return await self._sweep(JOBS, before)

    async def remove_validations(self, before: float) -> int:
        return await self._sweep(VALIDATIONS, before)

    async def live_validation_ids(self) -> set[str]:
        """Validations still held, queued or running, or named by a live job (their artifacts stay)."""

        def work(conn: sqlite3.Connection) -> set[str]:
            unfinished = conn.execute("SELECT id FROM validations WHERE state IN ('held', 'queued', 'running')")
            return {str(row[0]) for row in unfinished} | set(live_work(conn).validation_ids)

        return await self.db.read(work)

    async def _sweep(self, table: _Table, before: float) -> int:
        removed, after = 0, (-1.0, table.first_key)
        while True:
            count, cursor = await self.db.write(functools.partial(
                _sweep_page, table=table, dialect=self.db.dialect, before=before, after=after, page=self.page))
            removed += count
            if cursor is None:
                return removed
            after = cursor
