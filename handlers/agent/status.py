"""An agent run as the thread should see it (a pure projection of the stored record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.store.agent_runs import AgentRunRecord

LABELS = {
    "queued": "⏳ queued",
    "running": "🏃 running",
    "finished": "✅ finished",
    "failed": "❌ failed",
    "stale": "⚠️ stale",
    "cancelled": "🛑 cancelled",
}


@dataclass(frozen=True)
class RunView:
    run_id: int
    status: str
    label: str
    command: str
    requested_by: str
    web_url: str | None
    elapsed_seconds: int
    answer_kind: str | None
    result: str | None
    prs: tuple[dict[str, Any], ...]
    error: str | None
    codegen_status: str | None
    fix_attempt: int | None
    is_stale: bool
    stale_minutes: int


def status_view(record: AgentRunRecord, now: float, stale_minutes: int) -> RunView:
    silent_for = now - (record.progressed_at or record.created_at or now)
    is_stale = record.status == "stale" or (record.active and silent_for > stale_minutes * 60)
    status = "stale" if is_stale else record.status
    end = now if record.active else (record.updated_at or now)
    return RunView(
        run_id=record.id,
        status=status,
        label=LABELS.get(status, status),
        command=record.command,
        requested_by=record.requested_by,
        web_url=record.web_url,
        elapsed_seconds=max(0, int(end - (record.created_at or end))),
        answer_kind=record.answer_kind,
        result=record.result,
        prs=tuple(record.linked_prs),
        error=record.error,
        codegen_status=record.codegen_status,
        fix_attempt=record.fix_attempt,
        is_stale=is_stale,
        stale_minutes=stale_minutes,
    )
