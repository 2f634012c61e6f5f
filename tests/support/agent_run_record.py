"""An AgentRunRecord with plausible defaults, for tests of what the bot renders from a run."""

from __future__ import annotations

from bot.store.agent_runs import AgentRunRecord


def agent_run_record(**overrides: object) -> AgentRunRecord:
    """Run 7 on issue o/r#3, started by @alice at t=1000 and still running; `overrides` replace any field."""
    base: dict[str, object] = dict(id=7, repo="o/r", number=3, thread_kind="issue", installation_id=1,
                                   command="add tests", requested_by="alice", status="running",
                                   web_url="https://codegen.com/agent/trace/9", created_at=1000.0,
                                   updated_at=1000.0, progressed_at=1000.0)
    base.update(overrides)
    return AgentRunRecord(**base)  # type: ignore[arg-type]
