"""The reconciler: at start-up and then every `RECONCILE_MINUTES`, repairs what a crash or a lost event left.

It is a job of the durable queue (kind `reconcile`, one key), so it runs once the queue has recovered the
jobs a crash interrupted, never twice at a time, and survives restarts. Each feature adds its tasks (the
composition root does): a task looks for something stuck or missed and repairs it, and returns how many
repairs it made (`on_repairs` hands the counts to `/metrics`). One task that fails is logged and the
others still run; the next pass tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.dispatch.jobs import Job, JobQueue, Retry

log = logging.getLogger(__name__)

JOB = "reconcile"
#: seconds from start-up to the first pass
STARTUP_DELAY = 2.0
#: a task: repairs what it finds; returns how many repairs it made
ReconcileTask = Callable[[], Awaitable[int]]


class Reconciler:
    def __init__(self, jobs: JobQueue, every_seconds: float) -> None:
        self.jobs = jobs
        self.every_seconds = every_seconds
        self.tasks: dict[str, ReconcileTask] = {}
        #: told after each task with its name and its repairs (metrics)
        self.on_repairs: Callable[[str, int], None] | None = None

    def add(self, name: str, task: ReconcileTask) -> None:
        self.tasks[name] = task

    def register(self) -> None:
        self.jobs.register(JOB, self.run_job, concurrency=1, max_attempts=1000)

    async def schedule(self) -> None:
        """Run a pass shortly after start-up (`STARTUP_DELAY`: the queue has recovered and the port is served,
        so a delivery GitHub is asked to send again finds the bot listening); later passes follow every
        `every_seconds`."""
        await self.jobs.schedule(JOB, JOB, STARTUP_DELAY)  # one job in the cluster, however many replicas start

    async def run_once(self) -> int:
        total = 0
        for name, task in self.tasks.items():
            try:
                made = await task()
            except Exception:
                log.exception("reconcile task %s failed", name)
                continue
            if made:
                log.warning("reconciler repaired %d item(s) in %s", made, name)
            if self.on_repairs is not None:
                self.on_repairs(name, made)
            total += made
        return total

    async def run_job(self, job: Job) -> Retry | None:
        await self.run_once()
        return Retry(after=self.every_seconds)
