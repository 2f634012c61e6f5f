"""Validations in the store: one row per (pull request, head SHA) attempt, with its check runs and report.

States: `held` (untrusted code waiting for `/codegen ok-to-test`), `queued`, `running`, `done`, `cancelled`.

Exactly-once check runs: a record's check-run ids are stored in the same transaction that queues its job
(`record_check_runs`), so a record is either `queued` with its ids and a live job, or visibly unfinished
(no ids, or no live job) and repaired by the next delivery of its event or by the reconciler. `reported`
keeps, per stage, the conclusion its check run was given, so a retried job never reports a stage twice and
the reconciler finds check runs left open without asking GitHub.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database, in_lists

#: GitHub's prefix for the temporary branches of a merge queue
QUEUE_PREFIX = "gh-readonly-queue/"


@dataclass(frozen=True)
class ValidationRecord:
    id: str
    repo: str
    pr_number: int | None
    head_sha: str
    head_ref: str | None
    clone_url: str | None
    installation_id: int
    state: str
    trigger: str
    check_runs: dict[str, int]
    report: dict[str, Any] | None
    passed: bool | None
    created_at: float
    queued_at: float
    started_at: float | None
    finished_at: float | None
    #: where the commit is fetched from: the base repository, whose `refs/pull/N/head` holds every PR head
    #: (forks' included); None for records made before migration 9, fetched from `clone_url` instead
    source_url: str | None = None
    #: stage → the conclusion its check run was given (None: a record made before migration 11, untracked)
    reported: dict[str, str] | None = None

    @property
    def queue_base(self) -> str | None:
        """For a commit of GitHub's merge queue (no pull request; its branch is
        `gh-readonly-queue/<base>/pr-<n>-<sha>`), the queue's base branch; else None."""
        ref = self.head_ref or ""
        if self.pr_number is not None or not ref.startswith(QUEUE_PREFIX) or "/pr-" not in ref:
            return None
        return ref[len(QUEUE_PREFIX):].rsplit("/pr-", 1)[0] or None

    @property
    def owner_repo(self) -> tuple[str, str]:
        owner, name = self.repo.split("/", 1)
        return owner, name


def _record(row: sqlite3.Row) -> ValidationRecord:
    data = dict(row)
    data["check_runs"] = json.loads(data["check_runs"] or "{}")
    data["reported"] = json.loads(data["reported"]) if data.get("reported") is not None else None
    data["report"] = json.loads(data["report"]) if data["report"] else None
    data["passed"] = None if data["passed"] is None else bool(data["passed"])
    return ValidationRecord(**data)


class ValidationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, *, repo: str, pr_number: int | None, head_sha: str, head_ref: str | None, clone_url: str | None,
        installation_id: int, state: str, trigger: str, source_url: str | None = None,
    ) -> ValidationRecord:
        now = time.time()
        validation_id = uuid.uuid4().hex

        def work(conn: sqlite3.Connection) -> ValidationRecord:
            conn.execute(
                "INSERT INTO validations (id, repo, pr_number, head_sha, head_ref, clone_url, source_url,"
                " installation_id, state, trigger, created_at, queued_at, reported)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
                (validation_id, repo, pr_number, head_sha, head_ref, clone_url, source_url, installation_id, state,
                 trigger, now, now),
            )
            return _record(conn.execute("SELECT * FROM validations WHERE id = ?", (validation_id,)).fetchone())

        return await self.db.write(work)

    async def get(self, validation_id: str) -> ValidationRecord | None:
        def work(conn: sqlite3.Connection) -> ValidationRecord | None:
            row = conn.execute("SELECT * FROM validations WHERE id = ?", (validation_id,)).fetchone()
            return _record(row) if row else None

        return await self.db.read(work)

    async def update(self, validation_id: str, **fields: Any) -> ValidationRecord:
        if "check_runs" in fields:
            fields["check_runs"] = json.dumps(fields["check_runs"])
        if "reported" in fields and fields["reported"] is not None:
            fields["reported"] = json.dumps(fields["reported"])
        if "report" in fields and fields["report"] is not None:
            fields["report"] = json.dumps(fields["report"])
        if "passed" in fields and fields["passed"] is not None:
            fields["passed"] = int(fields["passed"])
        allowed = set(ValidationRecord.__dataclass_fields__) - {"id"}
        if set(fields) - allowed:
            raise ValueError(f"unknown validation fields: {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)

        def work(conn: sqlite3.Connection) -> ValidationRecord:
            conn.execute(f"UPDATE validations SET {assignments} WHERE id = ?", (*fields.values(), validation_id))
            return _record(conn.execute("SELECT * FROM validations WHERE id = ?", (validation_id,)).fetchone())

        return await self.db.write(work)

    async def live_for_pr(self, repo: str, pr_number: int) -> list[ValidationRecord]:
        """Validations of this PR still held, queued or running (any head SHA)."""

        def work(conn: sqlite3.Connection) -> list[ValidationRecord]:
            rows = conn.execute(
                "SELECT * FROM validations WHERE repo = ? AND pr_number = ? AND state IN ('held', 'queued', 'running')",
                (repo, pr_number),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self.db.read(work)

    async def latest_for_sha(self, repo: str, head_sha: str) -> ValidationRecord | None:
        def work(conn: sqlite3.Connection) -> ValidationRecord | None:
            row = conn.execute(
                "SELECT * FROM validations WHERE repo = ? AND head_sha = ? ORDER BY created_at DESC LIMIT 1",
                (repo, head_sha),
            ).fetchone()
            return _record(row) if row else None

        return await self.db.read(work)

    async def first_seen(self, repo: str, head_sha: str) -> float | None:
        """When the bot first recorded a validation of this commit (None: never)."""

        def work(conn: sqlite3.Connection) -> float | None:
            row = conn.execute(
                "SELECT min(created_at) FROM validations WHERE repo = ? AND head_sha = ?", (repo, head_sha)
            ).fetchone()
            return float(row[0]) if row and row[0] is not None else None

        return await self.db.read(work)

    async def approve(self, repo: str, head_sha: str, by: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO approved_shas (repo, head_sha, approved_by, approved_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (repo, head_sha) DO UPDATE SET approved_by = excluded.approved_by,"
                " approved_at = excluded.approved_at",
                (repo, head_sha, by, time.time()),
            )

        await self.db.write(work)

    async def approved_by(self, repo: str, head_sha: str) -> str | None:
        def work(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT approved_by FROM approved_shas WHERE repo = ? AND head_sha = ?", (repo, head_sha)
            ).fetchone()
            return row[0] if row else None

        return await self.db.read(work)

    # --- exactly-once check runs and the reconciler (issue 14) ---------------------------------------
    async def record_check_runs(
        self, validation_id: str, check_runs: dict[str, int], reported: dict[str, str], job: QueuedJob | None,
    ) -> tuple[ValidationRecord, bool]:
        """In one transaction: the record's check-run ids, the stages already concluded, and (when given) its
        job, unless a live job of this validation exists. Returns the record and whether a job was queued."""

        def work(conn: sqlite3.Connection) -> tuple[ValidationRecord, bool]:
            conn.execute("UPDATE validations SET check_runs = ? WHERE id = ?", (json.dumps(check_runs), validation_id))
            _merge_reported(conn, validation_id, reported)
            queued = job is not None and not _live_job(conn, validation_id) and _insert_job(conn, job)
            return _get(conn, validation_id), queued

        return await self.db.write(work)

    async def mark_reported(self, validation_id: str, reported: dict[str, str]) -> None:
        """These stages' check runs were concluded (stage → conclusion)."""
        await self.db.write(lambda conn: _merge_reported(conn, validation_id, reported))

    async def has_live_job(self, validation_id: str) -> bool:
        return await self.db.read(lambda conn: _live_job(conn, validation_id))

    async def job_running(self, validation_id: str) -> bool:
        """A job of this validation is running (not only queued): its own cancellation concludes it."""
        return await self.db.read(lambda conn: _live_job(conn, validation_id, ("running",)))

    async def without_live_job(self) -> list[ValidationRecord]:
        """Validations `queued` or `running` whose job is neither queued nor running (a crash, a lost job)."""

        def work(conn: sqlite3.Connection) -> list[ValidationRecord]:
            live = {named for named, _state in _live_jobs(conn)}
            rows = conn.execute("SELECT * FROM validations WHERE state IN ('queued', 'running')").fetchall()
            return [_record(r) for r in rows if r["id"] not in live]

        return await self.db.read(work)

    async def with_open_check_runs(self, *, ended_before: float, ended_after: float) -> list[ValidationRecord]:
        """Validations `done` or `cancelled` (between the two times) with a check run the store does not know
        as concluded. Records made before `reported` existed are not tracked and not listed."""

        def work(conn: sqlite3.Connection) -> list[ValidationRecord]:
            rows = conn.execute(
                "SELECT * FROM validations WHERE state IN ('done', 'cancelled') AND reported IS NOT NULL"
                " AND coalesce(finished_at, queued_at) BETWEEN ? AND ?", (ended_after, ended_before),
            ).fetchall()
            records = [_record(r) for r in rows]
            return [r for r in records if set(r.check_runs) - set(r.reported or {})]

        return await self.db.read(work)

    async def active_repos(self, since: float) -> list[tuple[str, int]]:
        """(repository, installation id) of every repository with a validation created after `since`."""

        def work(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            rows = conn.execute(
                "SELECT repo, installation_id FROM validations WHERE created_at > ?"
                " GROUP BY repo, installation_id ORDER BY repo", (since,),
            ).fetchall()
            return [(str(r[0]), int(r[1])) for r in rows]

        return await self.db.read(work)

    async def recent(self, repos: list[str], limit: int = 30, *, state: str | None = None) -> list[ValidationRecord]:
        """The newest validations of these repositories (all states, or only `state`), newest first."""
        where = " AND state = ?" if state is not None else ""

        def work(conn: sqlite3.Connection) -> list[ValidationRecord]:
            found: list[ValidationRecord] = []
            for chunk, marks in in_lists(repos):
                found.extend(_record(r) for r in conn.execute(
                    f"SELECT * FROM validations WHERE repo IN ({marks}){where} ORDER BY created_at DESC LIMIT ?",
                    (*chunk, *([state] if state is not None else []), limit)))
            return sorted(found, key=lambda r: r.created_at, reverse=True)[:limit]

        return await self.db.read(work)

    async def known_shas(self, repo: str, shas: list[str]) -> set[str]:
        """Which of these head SHAs have a validation record (any state) in this repository."""

        def work(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for chunk, marks in in_lists(shas):
                found.update(row[0] for row in conn.execute(
                    f"SELECT DISTINCT head_sha FROM validations WHERE repo = ? AND head_sha IN ({marks})",
                    (repo, *chunk)))
            return found

        return await self.db.read(work)


@dataclass(frozen=True)
class QueuedJob:
    """A job row for the durable queue (bot/dispatch/jobs.py owns the table and runs it), written in the
    same transaction as the validation's check-run ids."""

    kind: str
    payload: dict[str, Any]
    key: str | None
    tenant: str | None
    #: the delivery being handled (the job's log lines carry it)
    delivery_id: str | None = None


#: the job kind that runs a validation (its payload names the record: `validation_id`)
JOB_KIND = "validation"
#: the live jobs of validations (the queue's `jobs` table): their payloads name the validation, read in Python
#: (JSON functions differ between SQLite and PostgreSQL; live jobs are few)
_JOB_STATES = f"SELECT payload, state FROM jobs WHERE kind = '{JOB_KIND}' AND state IN ('queued', 'running')"


def _live_jobs(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(validation id, state) of each queued or running validation job."""
    found: list[tuple[str, str]] = []
    for payload, state in conn.execute(_JOB_STATES):
        try:
            named = json.loads(payload)
        except ValueError:
            continue
        if isinstance(named, dict) and named.get("validation_id") is not None:
            found.append((str(named["validation_id"]), str(state)))
    return found


def _get(conn: sqlite3.Connection, validation_id: str) -> ValidationRecord:
    return _record(conn.execute("SELECT * FROM validations WHERE id = ?", (validation_id,)).fetchone())


def _live_job(conn: sqlite3.Connection, validation_id: str, states: tuple[str, ...] = ("queued", "running")) -> bool:
    return any(named == validation_id and state in states for named, state in _live_jobs(conn))


def _merge_reported(conn: sqlite3.Connection, validation_id: str, reported: dict[str, str]) -> None:
    if not reported:
        return
    row = conn.execute("SELECT reported FROM validations WHERE id = ?", (validation_id,)).fetchone()
    if row is None:
        return
    merged = {**json.loads(row[0] or "{}"), **reported}
    conn.execute("UPDATE validations SET reported = ? WHERE id = ?", (json.dumps(merged), validation_id))


def _insert_job(conn: sqlite3.Connection, job: QueuedJob) -> bool:
    """Queue `job` as `JobQueue.enqueue` does: one live job per key (a queued one takes the new payload; a
    running one loses its key and this one follows it)."""
    now, body = time.time(), json.dumps(job.payload)
    if job.key is not None:
        row = conn.execute("SELECT id, state FROM jobs WHERE key = ? AND state IN ('queued', 'running')",
                           (job.key,)).fetchone()
        if row is not None and row["state"] == "queued":
            conn.execute("UPDATE jobs SET payload = ?, run_at = ?, kind = ?, tenant = ?,"
                         " delivery_id = coalesce(?, delivery_id) WHERE id = ?",
                         (body, now, job.kind, job.tenant, job.delivery_id, row["id"]))
            return True
        if row is not None:
            conn.execute("UPDATE jobs SET key = NULL WHERE id = ?", (row["id"],))
    conn.execute(
        "INSERT INTO jobs (kind, key, payload, state, run_at, created_at, tenant, delivery_id)"
        " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
        (job.kind, job.key, body, now, now, job.tenant, job.delivery_id),
    )
    return True
