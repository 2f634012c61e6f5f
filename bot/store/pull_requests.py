"""Per-pull-request state of the merge and auto-fix loop (survives restarts).

- `merge_requested_by` / `merge_requested_sha`: a user with write permission said `/codegen merge`, at that
  head SHA (a push withdraws it);
- `automerge_sha`: the head SHA at which a user with write permission added the `codegen: automerge` label;
- `native_auto_merge_sha`: the head SHA for which enabling GitHub's own auto-merge was tried (enabled or
  refused; tried once per head);
- `notice_comment_id`: the comment that carries the merge notices, edited in place;
- `last_notice`: the last "why this PR does not merge" we posted, so the same reasons are said once;
- `fix_attempts`: failed validations sent back to the agent (bounded by `agent.max_fix_attempts`);
- `needs_human`: the bound was reached and a person was asked to step in.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True)
class PullRequestState:
    repo: str
    pr_number: int
    merge_requested_by: str | None = None
    last_notice: str | None = None
    fix_attempts: int = 0
    needs_human: bool = False
    merged_sha: str | None = None
    merge_requested_sha: str | None = None
    automerge_sha: str | None = None
    native_auto_merge_sha: str | None = None
    notice_comment_id: int | None = None
    #: the head SHA this bot put in GitHub's merge queue (None: not queued by the bot)
    queued_sha: str | None = None
    #: in the bot's merge train (`merge.train`): since when, into which base branch (None: not in it)
    train_ready_at: float | None = None
    train_base: str | None = None


_COLUMNS = ("repo, pr_number, merge_requested_by, last_notice, fix_attempts, needs_human, merged_sha,"
            " merge_requested_sha, automerge_sha, native_auto_merge_sha, notice_comment_id, queued_sha,"
            " train_ready_at, train_base")


def _state(row: sqlite3.Row) -> PullRequestState:
    data = dict(row)
    data["needs_human"] = bool(data["needs_human"])
    return PullRequestState(**data)


class PullRequestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, repo: str, pr_number: int) -> PullRequestState:
        def work(conn: sqlite3.Connection) -> PullRequestState:
            row = conn.execute(f"SELECT {_COLUMNS} FROM pull_requests WHERE repo = ? AND pr_number = ?",
                               (repo, pr_number)).fetchone()
            return _state(row) if row is not None else PullRequestState(repo, pr_number)

        return await self.db.read(work)

    async def merging(self, repo: str) -> list[PullRequestState]:
        """Pull requests of `repo` not merged yet for which a merge was asked, or that are in the bot's train or
        GitHub's merge queue (the status page), by pull request number."""

        def work(conn: sqlite3.Connection) -> list[PullRequestState]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM pull_requests WHERE repo = ? AND merged_sha IS NULL AND (merge_requested_by"
                " IS NOT NULL OR automerge_sha IS NOT NULL OR queued_sha IS NOT NULL OR train_ready_at IS NOT NULL)"
                " ORDER BY pr_number", (repo,)).fetchall()
            return [_state(row) for row in rows]

        return await self.db.read(work)

    async def set(self, repo: str, pr_number: int, **fields: object) -> None:
        allowed = {"merge_requested_by", "last_notice", "needs_human", "merged_sha", "fix_attempts",
                   "merge_requested_sha", "automerge_sha", "native_auto_merge_sha",
                   "notice_comment_id", "queued_sha", "train_ready_at", "train_base"}
        if set(fields) - allowed:
            raise ValueError(f"unknown fields {sorted(set(fields) - allowed)}")
        columns = ", ".join(fields)
        placeholders = ", ".join("?" for _ in fields)
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO pull_requests (repo, pr_number, {columns}, updated_at) VALUES (?, ?, {placeholders}, ?)"
                f" ON CONFLICT(repo, pr_number) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
                (repo, pr_number, *fields.values(), time.time()),
            )

        await self.db.write(work)

    async def train_line(self, repo: str, base: str) -> list[int]:
        """The bot's merge train into `base`: pull request numbers, the earliest ready first."""

        def work(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute(
                "SELECT pr_number FROM pull_requests WHERE repo = ? AND train_base = ? AND train_ready_at IS NOT NULL"
                " AND merged_sha IS NULL ORDER BY train_ready_at, pr_number",
                (repo, base),
            ).fetchall()
            return [int(r[0]) for r in rows]

        return await self.db.read(work)

    async def merge_asked_in(self, repo: str) -> bool:
        """Has anyone asked for a merge of some pull request of `repo` (a command or the label) that still
        stands? Read before any request, so an event nobody asked about costs nothing."""

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM pull_requests WHERE repo = ? AND merged_sha IS NULL"
                " AND (merge_requested_by IS NOT NULL OR automerge_sha IS NOT NULL) LIMIT 1",
                (repo,),
            ).fetchone()
            return row is not None

        return await self.db.read(work)

    async def take_fix_attempt(self, repo: str, pr_number: int, limit: int) -> int | None:
        """Atomically count one more fix attempt; None when `limit` attempts were already made."""

        def work(conn: sqlite3.Connection) -> int | None:
            conn.execute(
                "INSERT INTO pull_requests (repo, pr_number, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (repo, pr_number, time.time()),
            )
            (used,) = conn.execute(
                "SELECT fix_attempts FROM pull_requests WHERE repo = ? AND pr_number = ?", (repo, pr_number)
            ).fetchone()
            if used >= limit:
                return None
            conn.execute(
                "UPDATE pull_requests SET fix_attempts = ?, updated_at = ? WHERE repo = ? AND pr_number = ?",
                (used + 1, time.time(), repo, pr_number),
            )
            return int(used + 1)

        return await self.db.write(work)
