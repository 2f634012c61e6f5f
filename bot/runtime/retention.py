"""The retention sweep: shortly after start-up and then every `RETENTION_SWEEP_MINUTES`, removes what is older
than its retention (docs/retention.md).

Like the reconciler (bot/runtime/reconcile.py) it is a job of the durable queue (kind `retention`, one key):
never two passes at once, and the schedule survives restarts. The composition root (entrypoints/retention.py)
adds one task per kind of thing kept (`deliveries`, `jobs`, `validations`, `artifacts`, `setup_images`,
`build_images`, `git_caches`); a task is given the time of the pass, removes what is past its own retention
and returns how many it removed (`on_removed` hands the counts to `/metrics`,
`codegen_bot_retention_removed{kind}`). A task that fails is logged and the others still run; the next pass
tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from bot.dispatch.jobs import Job, JobQueue, Retry

log = logging.getLogger(__name__)

JOB = "retention"
#: seconds from start-up to the first pass (after the reconciler's: repairs come first)
STARTUP_DELAY = 30.0
#: a task: given the time of the pass, removes what is past its retention; returns how many it removed
SweepTask = Callable[[float], Awaitable[int]]


class RetentionSweep:
    def __init__(self, jobs: JobQueue, every_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.jobs = jobs
        self.every_seconds = every_seconds
        self.clock = clock
        self.tasks: dict[str, SweepTask] = {}
        #: told after each task with its kind and how many it removed (metrics)
        self.on_removed: Callable[[str, int], None] | None = None

    def add(self, kind: str, task: SweepTask) -> None:
        self.tasks[kind] = task

    def register(self) -> None:
        self.jobs.register(JOB, self.run_job, concurrency=1, max_attempts=1000)

    async def schedule(self) -> None:
        await self.jobs.schedule(JOB, JOB, STARTUP_DELAY)  # one job in the cluster, however many replicas start

    async def run_once(self, now: float | None = None) -> dict[str, int]:
        """One pass at `now` (default: the clock); how many of each kind were removed (a failed kind absent)."""
        at = self.clock() if now is None else now
        removed: dict[str, int] = {}
        for kind, task in self.tasks.items():
            try:
                removed[kind] = await task(at)
            except Exception:
                log.exception("retention sweep of %s failed", kind)
                continue
            if removed[kind]:
                log.info("retention sweep removed %d %s", removed[kind], kind)
            if self.on_removed is not None:
                self.on_removed(kind, removed[kind])
        return removed

    async def run_job(self, job: Job) -> Retry | None:
        await self.run_once()
        return Retry(after=self.every_seconds)
