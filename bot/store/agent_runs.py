"""Agent runs in the store: which thread asked for them, their Codegen run, their status and answer.

`status` is this bot's view of the run, one of:
`queued` (recorded, not yet created on Codegen), `running` (created or resumed, being polled),
`finished` (the agent answered: see `answer_kind`), `failed` (Codegen said FAILED/ERROR/…, or the API kept
refusing), `stale` (no progress seen within the configured limit), `cancelled` (a user asked to stop
following it). Only `queued` and `running` runs are *active*.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from bot.store.db import Database

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class AgentRunRecord:
    id: int
    repo: str
    number: int
    thread_kind: str
    installation_id: int
    command: str
    requested_by: str
    status: str
    prompt: str | None = None
    command_comment_id: int | None = None
    status_comment_id: int | None = None
    codegen_org_id: int | None = None
    codegen_run_id: int | None = None
    codegen_status: str | None = None
    web_url: str | None = None
    answer_kind: str | None = None
    result: str | None = None
    linked_prs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    fix_attempt: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    progressed_at: float = 0.0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def owner_repo(self) -> tuple[str, str]:
        owner, name = self.repo.split("/", 1)
        return owner, name


def _record(row: sqlite3.Row) -> AgentRunRecord:
    data = dict(row)
    data["linked_prs"] = json.loads(data["linked_prs"] or "[]")
    return AgentRunRecord(**data)


class AgentRunStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        repo: str,
        number: int,
        thread_kind: str,
        installation_id: int,
        command: str,
        requested_by: str,
        command_comment_id: int | None,
        fix_attempt: int | None = None,
    ) -> AgentRunRecord:
        now = time.time()

        def work(conn: sqlite3.Connection) -> AgentRunRecord:
            cur = conn.execute(
                "INSERT INTO agent_runs (repo, number, thread_kind, installation_id, command, requested_by,"
                " command_comment_id, status, fix_attempt, created_at, updated_at, progressed_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (repo, number, thread_kind, installation_id, command, requested_by, command_comment_id,
                 fix_attempt, now, now, now),
            )
            row = conn.execute("SELECT * FROM agent_runs WHERE id = ?", (cur.lastrowid,)).fetchone()
            return _record(row)

        return await self.db.write(work)

    async def get(self, run_id: int) -> AgentRunRecord | None:
        def work(conn: sqlite3.Connection) -> AgentRunRecord | None:
            row = conn.execute("SELECT * FROM agent_runs WHERE id = ?", (run_id,)).fetchone()
            return _record(row) if row else None

        return await self.db.read(work)

    async def update(self, run_id: int, *, progressed: bool = False, **fields: Any) -> AgentRunRecord:
        """Set fields (`linked_prs` as a list); `progressed` also moves the stale clock."""
        now = time.time()
        if "linked_prs" in fields:
            fields["linked_prs"] = json.dumps(fields["linked_prs"])
        fields["updated_at"] = now
        if progressed:
            fields["progressed_at"] = now
        allowed = set(AgentRunRecord.__dataclass_fields__) - {"id"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown agent run fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)

        def work(conn: sqlite3.Connection) -> AgentRunRecord:
            conn.execute(f"UPDATE agent_runs SET {assignments} WHERE id = ?", (*fields.values(), run_id))
            return _record(conn.execute("SELECT * FROM agent_runs WHERE id = ?", (run_id,)).fetchone())

        return await self.db.write(work)

    async def conversation_runs(self, repo: str, number: int) -> list[AgentRunRecord]:
        """Every run of one issue or PR thread, oldest first."""

        def work(conn: sqlite3.Connection) -> list[AgentRunRecord]:
            rows = conn.execute(
                "SELECT * FROM agent_runs WHERE repo = ? AND number = ? ORDER BY id", (repo, number)
            ).fetchall()
            return [_record(r) for r in rows]

        return await self.db.read(work)

    async def link_pr(self, run_id: int, repo: str, pr_number: int) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO pr_agent_runs (repo, pr_number, agent_run_id, linked_at) VALUES (?, ?, ?, ?)",
                (repo, pr_number, run_id, time.time()),
            )

        await self.db.write(work)

    async def run_for_pr(self, repo: str, pr_number: int) -> AgentRunRecord | None:
        """The latest agent run linked to a pull request (the auto-fix loop resumes it)."""

        def work(conn: sqlite3.Connection) -> AgentRunRecord | None:
            row = conn.execute(
                "SELECT r.* FROM pr_agent_runs l JOIN agent_runs r ON r.id = l.agent_run_id"
                " WHERE l.repo = ? AND l.pr_number = ? ORDER BY l.linked_at DESC, r.id DESC LIMIT 1",
                (repo, pr_number),
            ).fetchone()
            return _record(row) if row else None

        return await self.db.read(work)

    async def active_runs(self) -> list[AgentRunRecord]:
        def work(conn: sqlite3.Connection) -> list[AgentRunRecord]:
            rows = conn.execute(
                "SELECT * FROM agent_runs WHERE status IN ('queued', 'running') ORDER BY id"
            ).fetchall()
            return [_record(r) for r in rows]

        return await self.db.read(work)
