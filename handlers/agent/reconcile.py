"""Agent runs that nothing moves any more: found and moved on (the reconciler), or concluded.

- `follow_again(agent, record)`: an active run with no queued or running job of its own (a crash came
  between recording the run and queueing its job) gets the job it needs: a poll when it exists on Codegen,
  its start when it is still queued (the start looks for a run already created for it before creating one).
- `repair_unfollowed(agent)`: the reconciler's task `agent_runs.unfollowed`; every active run left so.
  A run changed since this process started and within `GRACE` seconds is left alone: the handler or job
  that changed it may be about to queue its job.
- `conclude_exhausted(agent, job, error)`: a start, resume or poll job that used up its attempts fails its
  run with a clear error and shows it in the run's status comment (the run is not left `running`).
- `status_gauge(store, gauge)`: agent runs by status for `/metrics`, counted at scrape time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge

from bot.dispatch.jobs import Job
from bot.store.agent_runs import AgentRunRecord, AgentRunStore
from handlers.agent.job_keys import KEY_PREFIXES, POLL, RESUME, START, poll_key, start_key
from handlers.agent.status import LABELS

if TYPE_CHECKING:
    from handlers.agent.service import AgentRunService

log = logging.getLogger(__name__)

#: seconds during which a run just changed by this process is not taken for an orphan
GRACE = 60.0
#: what each job kind was doing, for the error a run gets when that job gives up
DOING = {START: "starting the run on Codegen", POLL: "following the run on Codegen",
         RESUME: "resuming the run on Codegen"}


async def follow_again(agent: AgentRunService, record: AgentRunRecord, extra: dict[str, Any] | None = None) -> bool:
    """Queue the job that moves an active run on, unless one is queued or running; True when queued."""
    if not record.active or await agent.store.live_job_keys(record.id, KEY_PREFIXES):
        return False
    if record.codegen_run_id is not None:
        await agent.jobs.enqueue(POLL, {"run_id": record.id, "unchanged": 0}, key=poll_key(record.id))
    elif record.status == "queued":
        await agent.jobs.enqueue(START, {"run_id": record.id, **(extra or {})}, key=start_key(record.id))
    else:
        return False  # running without a Codegen run: never written so (a start records both at once)
    log.warning("agent run %d (%s) had no job: queued its %s again", record.id, record.status,
                "poll" if record.codegen_run_id is not None else "start")
    return True


async def repair_unfollowed(agent: AgentRunService) -> int:
    before = max(agent.started_at, time.time() - GRACE)
    repaired = 0
    for record in await agent.store.unfollowed(KEY_PREFIXES, before):
        if await follow_again(agent, record):
            repaired += 1
    return repaired


def interrupted(job: Job, error: str) -> str:
    doing = DOING.get(job.kind, "working on the run")
    return (f"Interrupted: {doing} failed {job.attempts} times in a row (last error: {error[:300]}). "
            "I no longer follow it.")


async def conclude_exhausted(agent: AgentRunService, job: Job, error: str) -> None:
    record = await agent.store.get(int(job.payload.get("run_id", 0)))
    if record is None or not record.active:
        return
    log.error("agent run %d: %s job gave up after %d attempts; the run is marked failed", record.id, job.kind,
              job.attempts)
    await agent.fail(record, interrupted(job, error))


def status_gauge(store: AgentRunStore, gauge: Gauge) -> Callable[[], Awaitable[None]]:
    """A scrape hook that sets `gauge{status}` to the number of agent runs in each status (0 included)."""

    async def report() -> None:
        counts = await store.count_by_status()
        for status in {*LABELS, *counts}:
            gauge.labels(status=status).set(counts.get(status, 0))

    return report
