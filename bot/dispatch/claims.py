"""How the job queue (bot/dispatch/jobs.py) claims due jobs: one process on SQLite, or several replicas on one
PostgreSQL store.

- `LocalClaims` (SQLite: one process writes the store): a due job is claimed by marking it `running`; at
  start-up, the jobs a crash left `running` go back to `queued` (nobody else can be running them).
- `LeasedClaims` (PostgreSQL: any number of replicas share the queue): a due job is claimed with
  `SELECT ... FOR UPDATE SKIP LOCKED` (two replicas never claim one job, and neither waits for the other)
  and a lease, `claimed_by` (the replica) and `lease_until`, which the replica renews while the job runs
  (`renew`, every third of the lease). A `running` job whose lease expired (its replica died) is due again: the
  next claim takes it, and counts an attempt, as a restart does on SQLite. Start-up never touches another
  replica's work; it hands back only the jobs its own identity left running (a restarted replica, same
  `REPLICA_ID`, resumes them at once instead of waiting out its own lease). A claim, a new job and a
  cancellation send `NOTIFY codegen_bot_jobs` (delivered at commit), which wakes the other replicas' queues
  (bot/store/pg_listen.py); they still look every few seconds without one.
- The job a replica finishes keeps `claimed_by` (who ran it last); its lease is cleared.
"""

from __future__ import annotations

import socket
from typing import Any

#: PostgreSQL channel told when jobs become due (a payload "cancel": a job was cancelled)
JOBS_CHANNEL = "codegen_bot_jobs"
#: default lease of a claimed job (JOB_LEASE_SECONDS); renewed every third of it
DEFAULT_LEASE = 30.0

_OLDEST = "SELECT * FROM jobs WHERE state = 'queued' AND kind = ? AND run_at <= ? ORDER BY run_at LIMIT ?"
_FAIREST = (
    "SELECT * FROM jobs j WHERE state = 'queued' AND kind = ? AND run_at <= ? ORDER BY"
    " (SELECT count(*) FROM jobs r WHERE r.state = 'running' AND r.kind = j.kind"
    " AND (r.tenant = j.tenant OR (r.tenant IS NULL AND j.tenant IS NULL))),"
    " run_at LIMIT 1"
)
#: a due job on PostgreSQL: queued and due, or running under a lease that expired
_DUE_PG = "((state = 'queued' AND run_at <= ?) OR (state = 'running' AND coalesce(lease_until, 0) < ?))"
_OLDEST_PG = (
    f"SELECT id FROM jobs WHERE kind = ? AND {_DUE_PG} ORDER BY run_at LIMIT ? FOR UPDATE SKIP LOCKED"
)
_FAIREST_PG = (
    f"SELECT id FROM jobs j WHERE kind = ? AND {_DUE_PG} ORDER BY"
    " (SELECT count(*) FROM jobs r WHERE r.state = 'running' AND r.kind = j.kind"
    " AND (r.tenant = j.tenant OR (r.tenant IS NULL AND j.tenant IS NULL))),"
    " run_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_TAKE_PG = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?, claimed_by = ?, lease_until = ?"
    " WHERE id = ? RETURNING *"
)

#: what a claim wants of one kind: (kind, free slots, fair)
Want = tuple[str, int, bool]


def default_replica_id(port: int | None = None) -> str:
    """This replica's name in `claimed_by` when REPLICA_ID is not set: the host, and the port it serves."""
    host = socket.gethostname()
    return host if port is None else f"{host}:{port}"


class LocalClaims:
    """One process writes the store (SQLite)."""

    leased = False
    lease = DEFAULT_LEASE

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def recover(self, conn: Any) -> int:
        return int(conn.execute("UPDATE jobs SET state = 'queued', lease_until = NULL WHERE state = 'running'")
                   .rowcount)

    def claim(self, conn: Any, wants: list[Want], now: float) -> list[dict[str, Any]]:
        claimed: list[dict[str, Any]] = []
        for kind, room, fair in wants:
            for row in _due(conn, kind, now, room, fair):
                conn.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?, claimed_by = ?"
                    " WHERE id = ?", (now, self.owner, row["id"]))
                claimed.append({**dict(row), "attempts": row["attempts"] + 1})
        return claimed

    def next_due(self, conn: Any, kinds: list[str]) -> float | None:
        marks = ",".join("?" * len(kinds))
        value = conn.execute(f"SELECT min(run_at) FROM jobs WHERE state = 'queued' AND kind IN ({marks})",
                             kinds).fetchone()[0]
        return None if value is None else float(value)

    def renew(self, conn: Any, ids: list[int], now: float) -> set[int]:
        return set(ids)

    def notify(self, conn: Any, payload: str = "") -> None:
        """Nothing to wake: one process."""


class LeasedClaims(LocalClaims):
    """Several replicas share the queue (PostgreSQL): SKIP LOCKED claims under an expiring lease."""

    leased = True

    def __init__(self, owner: str, lease: float = DEFAULT_LEASE) -> None:
        super().__init__(owner)
        self.lease = lease

    def recover(self, conn: Any) -> int:
        """Hand back what this replica's identity left running (a restart); another replica's work is its own."""
        return int(conn.execute(
            "UPDATE jobs SET state = 'queued', lease_until = NULL WHERE state = 'running' AND claimed_by = ?",
            (self.owner,)).rowcount)

    def claim(self, conn: Any, wants: list[Want], now: float) -> list[dict[str, Any]]:
        claimed: list[dict[str, Any]] = []
        until = now + self.lease
        for kind, room, fair in wants:
            if fair:
                for _ in range(room):  # one at a time: each pick sees the ones before it running
                    row = conn.execute(_FAIREST_PG, (kind, now, now)).fetchone()
                    if row is None:
                        break
                    claimed.append(dict(conn.execute(_TAKE_PG, (now, self.owner, until, row["id"])).fetchone()))
                continue
            for row in conn.execute(_OLDEST_PG, (kind, now, now, room)).fetchall():
                claimed.append(dict(conn.execute(_TAKE_PG, (now, self.owner, until, row["id"])).fetchone()))
        return claimed

    def next_due(self, conn: Any, kinds: list[str]) -> float | None:
        marks = ",".join("?" * len(kinds))
        value = conn.execute(
            "SELECT min(CASE WHEN state = 'queued' THEN run_at ELSE coalesce(lease_until, 0) END) FROM jobs"
            f" WHERE state IN ('queued', 'running') AND kind IN ({marks})", kinds).fetchone()[0]
        return None if value is None else float(value)

    def renew(self, conn: Any, ids: list[int], now: float) -> set[int]:
        """Extend the leases of the jobs this replica runs; the ids still its own and running (a job missing
        was cancelled, or its lease lapsed and another replica took it)."""
        if not ids:
            return set()
        rows = conn.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ANY(?) AND claimed_by = ? AND state = 'running' RETURNING id",
            (now + self.lease, list(ids), self.owner)).fetchall()
        return {int(r[0]) for r in rows}

    def notify(self, conn: Any, payload: str = "") -> None:
        conn.execute("SELECT pg_notify(?, ?)", (JOBS_CHANNEL, payload))


def claims_for(dialect: str, owner: str | None = None, lease: float = DEFAULT_LEASE) -> LocalClaims:
    """SQLite: one process; PostgreSQL: leases, for several replicas."""
    name = owner or default_replica_id()
    return LeasedClaims(name, lease) if dialect == "postgresql" else LocalClaims(name)


def _due(conn: Any, kind: str, now: float, room: int, fair: bool) -> list[Any]:
    """The due jobs to start now. Fair kinds pick one at a time, so each pick sees the ones before it."""
    if not fair:
        return list(conn.execute(_OLDEST, (kind, now, room)).fetchall())
    picked: list[Any] = []
    for _ in range(room):
        row = conn.execute(_FAIREST, (kind, now)).fetchone()
        if row is None:
            break
        conn.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (row["id"],))
        picked.append(row)
    return picked
