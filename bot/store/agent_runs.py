"""Agent runs in the store: which thread asked for them, their Codegen run, their status and answer.

`status` is this bot's view of the run, one of:
`queued` (recorded, not yet created on Codegen), `running` (created or resumed, being polled),
`finished` (the agent answered: see `answer_kind`), `failed` (Codegen said FAILED/ERROR/…, or the API kept
refusing), `stale` (no progress seen within the configured limit), `cancelled` (a user asked to stop
following it). Only `queued` and `running` runs are *active*.

A run started by a command carries a `command_key` (the comment, where it was written, and the command's
position in it), unique per repository: handling the same comment again finds its run instead of recording
another (`create_once`). `create_sent_at` is set, atomically, just before the run's creation is sent to
Codegen (`claim_create`): whoever finds it already set looks for the run on Codegen before creating one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.store.db import Database, in_lists

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
    command_key: str | None = None
    create_sent_at: float | None = None

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
        command_key: str | None = None,
    ) -> AgentRunRecord:
        record, _ = await self.create_once(
            repo=repo, number=number, thread_kind=thread_kind, installation_id=installation_id, command=command,
            requested_by=requested_by, command_comment_id=command_comment_id, fix_attempt=fix_attempt,
            command_key=command_key,
        )
        return record

    async def create_once(
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
        command_key: str | None = None,
    ) -> tuple[AgentRunRecord, bool]:
        """Record a queued run; with a `command_key` already recorded in `repo`, that run instead.
        Returns the record and whether it was created now."""
        now = time.time()
        values = (repo, number, thread_kind, installation_id, command, requested_by, command_comment_id,
                  fix_attempt, now, now, now, command_key)

        def work(conn: sqlite3.Connection) -> tuple[AgentRunRecord, bool]:
            inserted = conn.execute(
                "INSERT INTO agent_runs (repo, number, thread_kind, installation_id, command, requested_by,"
                " command_comment_id, status, fix_attempt, created_at, updated_at, progressed_at, command_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)"
                " ON CONFLICT (repo, command_key) WHERE command_key IS NOT NULL DO NOTHING RETURNING *",
                values,
            ).fetchall()
            if inserted:
                return _record(inserted[0]), True
            row = conn.execute(
                "SELECT * FROM agent_runs WHERE repo = ? AND command_key = ?", (repo, command_key)
            ).fetchone()
            return _record(row), False

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
                "INSERT INTO pr_agent_runs (repo, pr_number, agent_run_id, linked_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
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

    async def for_command(self, repo: str, command_key: str) -> AgentRunRecord | None:
        """The run recorded for this command, if any."""

        def work(conn: sqlite3.Connection) -> AgentRunRecord | None:
            row = conn.execute(
                "SELECT * FROM agent_runs WHERE repo = ? AND command_key = ?", (repo, command_key)
            ).fetchone()
            return _record(row) if row else None

        return await self.db.read(work)

    async def claim_create(self, run_id: int) -> float | None:
        """Note that the run's creation is being sent to Codegen now. None when this caller is the first to
        send it; otherwise when it was first sent (the run may exist on Codegen: look for it first)."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> float | None:
            cur = conn.execute(
                "UPDATE agent_runs SET create_sent_at = ? WHERE id = ? AND create_sent_at IS NULL", (now, run_id)
            )
            if cur.rowcount == 1:
                return None
            row = conn.execute("SELECT create_sent_at FROM agent_runs WHERE id = ?", (run_id,)).fetchone()
            return float(row[0]) if row is not None and row[0] is not None else now

        return await self.db.write(work)

    async def unfollowed(self, key_prefixes: Sequence[str], before: float) -> list[AgentRunRecord]:
        """Active runs, last changed before `before`, with no queued or running job whose key is one of
        `key_prefixes` followed by the run's id (nothing will move them)."""
        keys = " OR ".join("j.key = ? || r.id" for _ in key_prefixes)

        def work(conn: sqlite3.Connection) -> list[AgentRunRecord]:
            rows = conn.execute(
                "SELECT r.* FROM agent_runs r WHERE r.status IN ('queued', 'running') AND r.updated_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state IN ('queued', 'running')"
                f" AND ({keys})) ORDER BY r.id",
                (before, *key_prefixes),
            ).fetchall()
            return [_record(r) for r in rows]

        return await self.db.read(work)

    async def live_job_keys(self, run_id: int, key_prefixes: Sequence[str]) -> set[str]:
        """Which of the run's job keys (`prefix + id`) have a queued or running job."""
        keys = [f"{prefix}{run_id}" for prefix in key_prefixes]
        marks = ",".join("?" * len(keys))

        def work(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                f"SELECT key FROM jobs WHERE state IN ('queued', 'running') AND key IN ({marks})", keys
            ).fetchall()
            return {str(r[0]) for r in rows}

        return await self.db.read(work)

    async def recent(self, repos: list[str], limit: int = 30) -> list[AgentRunRecord]:
        """The newest runs of these repositories, newest first."""

        def work(conn: sqlite3.Connection) -> list[AgentRunRecord]:
            found: list[AgentRunRecord] = []
            for chunk, marks in in_lists(repos):
                found.extend(_record(r) for r in conn.execute(
                    f"SELECT * FROM agent_runs WHERE repo IN ({marks}) ORDER BY id DESC LIMIT ?", (*chunk, limit)))
            return sorted(found, key=lambda r: r.id, reverse=True)[:limit]

        return await self.db.read(work)

    async def count_by_status(self) -> dict[str, int]:
        def work(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute("SELECT status, count(*) FROM agent_runs GROUP BY status").fetchall()
            return {str(r[0]): int(r[1]) for r in rows}

        return await self.db.read(work)
