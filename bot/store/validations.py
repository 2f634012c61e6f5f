"""Validations in the store: one row per (pull request, head SHA) attempt, with its check runs and report.

States: `held` (untrusted code waiting for `/codegen ok-to-test`), `queued`, `running`, `done`, `cancelled`.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database


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

    @property
    def owner_repo(self) -> tuple[str, str]:
        owner, name = self.repo.split("/", 1)
        return owner, name


def _record(row: sqlite3.Row) -> ValidationRecord:
    data = dict(row)
    data["check_runs"] = json.loads(data["check_runs"] or "{}")
    data["report"] = json.loads(data["report"]) if data["report"] else None
    data["passed"] = None if data["passed"] is None else bool(data["passed"])
    return ValidationRecord(**data)


class ValidationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, *, repo: str, pr_number: int | None, head_sha: str, head_ref: str | None, clone_url: str | None,
        installation_id: int, state: str, trigger: str,
    ) -> ValidationRecord:
        now = time.time()
        validation_id = uuid.uuid4().hex

        def work(conn: sqlite3.Connection) -> ValidationRecord:
            conn.execute(
                "INSERT INTO validations (id, repo, pr_number, head_sha, head_ref, clone_url, installation_id,"
                " state, trigger, created_at, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (validation_id, repo, pr_number, head_sha, head_ref, clone_url, installation_id, state, trigger,
                 now, now),
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
                "INSERT OR REPLACE INTO approved_shas (repo, head_sha, approved_by, approved_at) VALUES (?, ?, ?, ?)",
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
