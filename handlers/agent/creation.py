"""Creating a run on Codegen once per agent-run record, whatever crashes or runs twice.

Codegen has no idempotency key, so the record's id goes into the run's `metadata` and the record notes,
atomically, when its creation was first sent (`AgentRunStore.claim_create`):
- the first job to claim it sends the create;
- any later job (a retry, the job re-run after a crash, a second job queued for the same record) finds the
  claim and first looks among the organisation's latest runs for one whose metadata names this record; only
  when there is none, and the first send is older than `SETTLE` seconds (no answer can still be on its way),
  does it send the create again.
The crash point `codegen.create.after` sits between Codegen's answer and the caller recording the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.codegen.client import AgentRun, CodegenClient, CodegenError, CodegenQuotaReached, CodegenRateLimited
from bot.dispatch.jobs import Retry
from bot.runtime.faults import crash_point
from bot.store.agent_runs import AgentRunRecord, AgentRunStore

log = logging.getLogger(__name__)

#: seconds after a create was sent during which a missing run may still be on its way (then: wait, not send)
SETTLE = 30.0
#: how many of the organisation's latest runs are searched for the record's metadata
LOOKBACK = 100

Fail = Callable[[AgentRunRecord, str], Awaitable[None]]


def metadata_for(record: AgentRunRecord, html_url: str) -> dict[str, Any]:
    """What Codegen stores with the run, so a run can be traced back to its thread from codegen.com."""
    return {
        "codegen_bot": {
            "run_id": record.id,
            "repo": record.repo,
            "number": record.number,
            "kind": record.thread_kind,
            "comment_id": record.command_comment_id,
            "url": html_url,
        }
    }


async def already_created(codegen: CodegenClient, org_id: int, record: AgentRunRecord) -> AgentRun | None:
    """The run created for this record, found by our metadata among the organisation's latest runs."""
    for run in await codegen.list_runs(org_id, limit=LOOKBACK):
        mark = (run.metadata or {}).get("codegen_bot") or {}
        if mark.get("run_id") == record.id and mark.get("repo") == record.repo:
            return run
    return None


async def find_or_create(
    codegen: CodegenClient, store: AgentRunStore, fail: Fail, record: AgentRunRecord, org_id: int,
    prompt: str, html_url: str,
) -> AgentRun | Retry | None:
    """The record's run on Codegen (found or created now); a `Retry` to come back later; None when the run
    was refused and the record failed."""
    sent_at = await store.claim_create(record.id)
    if sent_at is not None:
        try:
            found = await already_created(codegen, org_id, record)
        except CodegenRateLimited as exc:
            return Retry(after=exc.retry_after)
        if found is not None:
            log.warning("agent run %d was already created on Codegen (run %d): not creating another",
                        record.id, found.id)
            return found
        if time.time() - sent_at < SETTLE:
            return Retry(after=SETTLE)
        await store.update(record.id, create_sent_at=time.time())
    try:
        run = await codegen.create_run(org_id, prompt, metadata=metadata_for(record, html_url))
    except CodegenQuotaReached as exc:
        await fail(record, f"Codegen refused the run: the organisation's agent-run quota is reached ({exc.message}).")
        return None
    except CodegenRateLimited as exc:  # not a refusal, and nothing was created: the same job again later
        log.warning("Codegen rate limit; starting run %s in %.0fs", record.id, exc.retry_after)
        await store.update(record.id, create_sent_at=None)
        return Retry(after=exc.retry_after)
    except CodegenError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            await fail(record, f"Codegen refused the run (HTTP {exc.status}): {exc.message}")
            return None
        raise  # transient (the run may exist): the job queue retries, and the retry looks for it first
    crash_point("codegen.create.after")
    return run
