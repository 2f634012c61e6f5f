"""Installations of the App and the repositories they grant, as told by `installation*` webhooks."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True)
class RepoGrant:
    full_name: str
    repo_id: int | None
    private: bool | None


class InstallationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, installation_id: int, account: str, account_type: str | None) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO installations (id, account, account_type, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET account = excluded.account,"
                " account_type = excluded.account_type, deleted = 0, updated_at = excluded.updated_at",
                (installation_id, account, account_type, time.time()),
            )

        await self.db.write(work)

    async def set_flags(
        self, installation_id: int, *, suspended: bool | None = None, deleted: bool | None = None
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            if suspended is not None:
                conn.execute(
                    "UPDATE installations SET suspended = ?, updated_at = ? WHERE id = ?",
                    (int(suspended), time.time(), installation_id),
                )
            if deleted is not None:
                conn.execute(
                    "UPDATE installations SET deleted = ?, updated_at = ? WHERE id = ?",
                    (int(deleted), time.time(), installation_id),
                )
                if deleted:
                    conn.execute(
                        "DELETE FROM installation_repositories WHERE installation_id = ?", (installation_id,)
                    )

        await self.db.write(work)

    async def add_repos(self, installation_id: int, repos: Iterable[RepoGrant]) -> None:
        rows = [(installation_id, r.full_name, r.repo_id, r.private) for r in repos]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO installation_repositories (installation_id, full_name, repo_id, private)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(installation_id, full_name) DO UPDATE SET"
                " repo_id = excluded.repo_id, private = excluded.private",
                rows,
            )

        await self.db.write(work)

    async def remove_repos(self, installation_id: int, full_names: Iterable[str]) -> None:
        rows = [(installation_id, name) for name in full_names]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM installation_repositories WHERE installation_id = ? AND full_name = ?", rows
            )

        await self.db.write(work)

    async def installation_for(self, full_name: str) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT r.installation_id FROM installation_repositories r JOIN installations i"
                " ON i.id = r.installation_id WHERE r.full_name = ? AND i.deleted = 0",
                (full_name,),
            ).fetchone()
            return row[0] if row else None

        return await self.db.read(work)

    async def for_account(self, account: str) -> int | None:
        """The live installation on this account (a user or organization, any case), if any."""
        row = await self.db.read(lambda conn: conn.execute(
            "SELECT id FROM installations WHERE lower(account) = lower(?) AND deleted = 0 ORDER BY id LIMIT 1",
            (account,)).fetchone())
        return int(row[0]) if row else None

    async def get(self, installation_id: int) -> dict[str, object] | None:
        def work(conn: sqlite3.Connection) -> dict[str, object] | None:
            row = conn.execute("SELECT * FROM installations WHERE id = ?", (installation_id,)).fetchone()
            if row is None:
                return None
            repos = [
                r[0]
                for r in conn.execute(
                    "SELECT full_name FROM installation_repositories WHERE installation_id = ?"
                    " ORDER BY full_name",
                    (installation_id,),
                )
            ]
            return {**dict(row), "repositories": repos}

        return await self.db.read(work)
