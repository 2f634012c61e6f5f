"""A simulated load for the retention sweep, on a fake clock (bench/retention.py and its test).

Every simulated hour, `SimulatedLoad.hour()` writes what a busy installation leaves behind in that hour, with
that hour's times: deliveries (handled, their bodies emptied as the worker does; a few failed, with their
bodies), one finished job per delivery, validations with their reports and each one's artifacts on disk, and
fetches into the bare git caches of the repositories active that day (the active ones move on day by day, so
the caches of quiet repositories age). A few agent runs a day (people's commands) are written too; they are
conversation state, which retention keeps. Then the real retention sweep (`entrypoints/retention.py`, with no
Docker engine) runs at the end of the hour.

Live work is there from the start and must survive the whole load: a pending delivery, a queued job, a
queued validation with its artifacts, and an active agent run whose pull request's old validation stays.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bot.dispatch.jobs import JobQueue
from bot.runtime.retention import RetentionSweep
from bot.store.db import Database
from bot.store.delivery_body import pack
from bot.store.retention import store_size
from config.settings import Settings
from entrypoints.retention import DockerImages, retention_sweep
from validators.git_source import GitCache
from validators.image_retention import ImageKind
from validators.retention import directory_bytes
from validators.web_eval.artifacts import ArtifactStore

HOUR = 3600.0
REPO = "octo-org/busy"
TABLES = ("deliveries", "jobs", "validations", "agent_runs")


@dataclass(frozen=True)
class Rates:
    """What one simulated hour brings."""

    deliveries: int = 600
    validations: int = 30
    #: of the deliveries, this share fails for good (their bodies are kept until the retention)
    failed_share: float = 0.01
    body_bytes: int = 6000
    report_bytes: int = 8000
    artifact_bytes: int = 200_000
    #: repositories whose caches are fetched into in one day, and how many of them are new each day
    repos_per_day: int = 20
    new_repos_per_day: int = 5
    cache_bytes: int = 100_000
    agent_runs_per_day: int = 20


class NoDockerImages(DockerImages):
    """The simulation never touches a real engine's images (its clock runs ahead of the engine's)."""

    async def remove_unused(self, kind: ImageKind, before: float) -> int:
        return 0


@dataclass(frozen=True)
class Footprint:
    """What the store and the disk hold at one moment."""

    rows: dict[str, int]
    store_bytes: int
    store_free_bytes: int
    #: validations with artifacts, and their bytes
    artifact_dirs: int
    artifact_bytes: int
    #: bare git caches, and their bytes
    caches: int
    cache_bytes: int


@dataclass
class SimulatedLoad:
    db: Database
    root: Path
    settings: Settings
    start: float
    rates: Rates = field(default_factory=Rates)
    sweeping: bool = True
    hours: int = 0
    live: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.random = random.Random(17)
        self.artifacts = ArtifactStore(self.root / "artifacts", b"k")
        self.git_cache = GitCache(self.root / "git")
        self.sweep: RetentionSweep = retention_sweep(self.settings, self.db, JobQueue(self.db), self.git_cache,
                                                     self.artifacts, engine=NoDockerImages())

    @property
    def now(self) -> float:
        return self.start + self.hours * HOUR

    async def begin_live_work(self) -> None:
        """Work that stays live through the whole load (and so must stay)."""
        self.live = await self.db.write(lambda conn: _live_work(conn, self.start))
        self.artifacts.save(self.live["validation"], "page.png", b"0" * 1000)
        _backdate(self.root / "artifacts" / self.live["validation"], self.start)

    async def hour(self) -> dict[str, int]:
        """One simulated hour of load, then (when sweeping) the sweep at its end; what the sweep removed."""
        now = self.now
        validation_ids = await self.db.write(lambda conn: self._write_hour(conn, now))
        for validation_id in validation_ids:
            self.artifacts.save(validation_id, "page.png", os.urandom(self.rates.artifact_bytes))
            _backdate(self.root / "artifacts" / validation_id, now)
        self._fetch_caches(now)
        self.hours += 1
        return await self.sweep.run_once(self.now) if self.sweeping else {}

    async def footprint(self) -> Footprint:
        rows = await self.db.read(lambda c: {t: int(c.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                                             for t in TABLES})
        size = await store_size(self.db)
        artifacts, caches = self.root / "artifacts", self.root / "git"
        return Footprint(rows, size.bytes, size.free_bytes, _entries(artifacts), directory_bytes(artifacts),
                         _entries(caches), directory_bytes(caches))

    async def live_work_kept(self) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return all(conn.execute(sql, (self.live[name],)).fetchone() is not None for name, sql in (
                ("delivery", "SELECT 1 FROM deliveries WHERE id = ? AND state = 'pending'"),
                ("job", "SELECT 1 FROM jobs WHERE id = ? AND state = 'queued'"),
                ("validation", "SELECT 1 FROM validations WHERE id = ? AND state = 'queued'"),
                ("thread_validation", "SELECT 1 FROM validations WHERE id = ?"),
            ))

        return await self.db.read(work) and (self.root / "artifacts" / self.live["validation"]).is_dir()

    # --- one hour's rows ---------------------------------------------------------------------------
    def _write_hour(self, conn: sqlite3.Connection, now: float) -> list[str]:
        rates = self.rates
        for n in range(rates.deliveries):
            failed = self.random.random() < rates.failed_share
            delivery_id = str(uuid.UUID(int=self.random.getrandbits(128)))
            body = pack(os.urandom(rates.body_bytes // 2).hex().encode()) if failed else b""
            conn.execute("INSERT INTO deliveries (id, event, action, installation_id, body, received_at, state,"
                         " attempts, handled_at, handled_count, error) VALUES (?, 'pull_request', 'synchronize',"
                         " 7, ?, ?, ?, 1, ?, ?, ?)",
                         (delivery_id, body, now + n / 1000, "failed" if failed else "handled", now + n / 1000,
                          0 if failed else 1, "boom" if failed else None))
            conn.execute("INSERT INTO jobs (kind, key, payload, state, run_at, attempts, created_at, updated_at,"
                         " delivery_id) VALUES ('merge.evaluate', NULL, ?, 'done', ?, 1, ?, ?, ?)",
                         (json.dumps({"repo": REPO, "number": n % 50 + 100, "installation_id": 7}), now, now, now,
                          delivery_id))
        made = [self._validation(conn, now) for _ in range(rates.validations)]
        if self.hours % 24 < rates.agent_runs_per_day:
            _agent_run(conn, now, number=1000 + self.hours, status="finished")
        return made

    def _validation(self, conn: sqlite3.Connection, now: float) -> str:
        """A finished validation of a pull request (none of those the live work is about) and its report."""
        validation_id = uuid.UUID(int=self.random.getrandbits(128)).hex
        report = json.dumps({"sha": validation_id, "log": "x" * self.rates.report_bytes})
        conn.execute("INSERT INTO validations (id, repo, pr_number, head_sha, installation_id, state, trigger,"
                     " report, passed, created_at, queued_at, started_at, finished_at, reported)"
                     " VALUES (?, ?, ?, ?, 7, 'done', 'push', ?, 1, ?, ?, ?, ?, '{}')",
                     (validation_id, REPO, self.random.randrange(10, 500), validation_id.ljust(40, "0"), report,
                      now, now, now, now))
        return validation_id

    def _fetch_caches(self, now: float) -> None:
        """This hour's fetches: into a few of the repositories active today (a window that moves on daily)."""
        day, rates = self.hours // 24, self.rates
        first = day * rates.new_repos_per_day
        for index in self.random.sample(range(first, first + rates.repos_per_day), k=3):
            repo = self.root / "git" / f"repo{index}-{index:016x}.git"
            if not repo.is_dir():
                (repo / "objects").mkdir(parents=True)
                (repo / "HEAD").write_text("ref: refs/heads/main\n")
                (repo / "objects" / "pack").write_bytes(os.urandom(rates.cache_bytes))
            os.utime(repo, (now, now))


def _live_work(conn: sqlite3.Connection, at: float) -> dict[str, str]:
    conn.execute("INSERT INTO deliveries (id, event, body, received_at, state, next_attempt_at)"
                 " VALUES ('live-delivery', 'issues', x'00', ?, 'pending', ?)", (at, at + 10 * 365 * 86400))
    job = conn.execute("INSERT INTO jobs (kind, key, payload, state, run_at, created_at) VALUES"
                       " ('agent_run.poll', 'live', '{}', 'queued', ?, ?)", (at + 10 * 365 * 86400, at)).lastrowid
    queued = "live-queued"
    conn.execute("INSERT INTO validations (id, repo, pr_number, head_sha, installation_id, state, trigger, created_at,"
                 " queued_at) VALUES (?, ?, 1, ?, 7, 'queued', 'push', ?, ?)", (queued, REPO, "a" * 40, at, at))
    conn.execute("INSERT INTO validations (id, repo, pr_number, head_sha, installation_id, state, trigger,"
                 " created_at, queued_at, finished_at) VALUES ('thread-validation', ?, 2, ?, 7, 'done', 'push', ?, ?,"
                 " ?)", (REPO, "b" * 40, at, at, at))
    _agent_run(conn, at, number=2, status="running")
    return {"delivery": "live-delivery", "job": str(job), "validation": queued,
            "thread_validation": "thread-validation"}


def _agent_run(conn: sqlite3.Connection, at: float, *, number: int, status: str) -> None:
    conn.execute("INSERT INTO agent_runs (repo, number, thread_kind, installation_id, command, requested_by, status,"
                 " result, created_at, updated_at, progressed_at) VALUES (?, ?, 'pr', 7, 'start', 'octocat', ?, ?, ?,"
                 " ?, ?)", (REPO, number, status, "answer " * 200, at, at, at))


def _entries(path: Path) -> int:
    return sum(1 for _ in path.iterdir()) if path.is_dir() else 0


def _backdate(path: Path, when: float) -> None:
    for item in (*path.iterdir(), path):
        os.utime(item, (when, when))
