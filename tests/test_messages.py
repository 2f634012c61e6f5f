"""Texts the bot posts: prompt template, status comment, replies (pure)."""

from __future__ import annotations

from bot.agent_runs import AgentRunRecord
from handlers.messages.agent_prompt import MAX_PROMPT_CHARS, PromptContext, build_prompt, build_resume_prompt
from handlers.messages.run_status import render_command_error, render_refusal, render_status, render_status_report
from handlers.rules.commands import CommandError
from handlers.run_view import status_view


def record(**kw: object) -> AgentRunRecord:
    base: dict[str, object] = dict(id=7, repo="o/r", number=3, thread_kind="issue", installation_id=1,
                                   command="add tests", requested_by="alice", status="running",
                                   web_url="https://codegen.com/agent/trace/9", created_at=1000.0,
                                   updated_at=1000.0, progressed_at=1000.0)
    base.update(kw)
    return AgentRunRecord(**base)  # type: ignore[arg-type]


def test_prompt_for_a_pr_and_an_issue() -> None:
    ctx = PromptContext(command="make it faster", repo="o/r", kind="pull_request", number=5, title="Speed",
                        body="Slow page", html_url="https://github.com/o/r/pull/5", head_branch="feat",
                        base_branch="main", comments=[("bob", "old"), ("carol", "newest")], prompt_prefix="Be brief.")
    prompt = build_prompt(ctx)
    assert prompt.startswith("Be brief.\n\nmake it faster")
    assert "Push your changes to the branch `feat`" in prompt and "Slow page" in prompt
    assert prompt.index("@bob: old") < prompt.index("@carol: newest")
    issue = build_prompt(PromptContext(command="x", repo="o/r", kind="issue", number=9, title="t", body="",
                                       html_url="u", comments=[("bob", "c" * 100_000)] * 50))
    assert "references #9" in issue and len(issue) <= MAX_PROMPT_CHARS + 20
    assert build_resume_prompt("confirm", "") == "Proceed"
    assert build_resume_prompt("modify", "use a queue").endswith("use a queue")


def test_status_comment_moves_through_states() -> None:
    running = render_status(status_view(record(), now=1125.0, stale_minutes=60))
    assert running.startswith("<!-- codegen-bot:run:7 -->") and "2m 5s so far" in running
    assert "https://codegen.com/agent/trace/9" in running and "> add tests" in running
    stale = render_status(status_view(record(), now=1000.0 + 3601, stale_minutes=60))
    assert "stale" in stale and "No progress seen for more than 60 minutes" in stale
    failed = render_status(status_view(record(status="failed", error="Codegen said no."), 2000.0, 60))
    assert "The agent run failed" in failed and "Codegen said no." in failed and "/codegen <request>" in failed
    long_result = "x" * 10_000
    done = render_status(status_view(record(status="finished", answer_kind="regular", result=long_result,
                                            fix_attempt=2), 2000.0, 60))
    assert "answer shortened" in done and len(done) < 5_000 and "Fix attempt 2" in done
    prs = render_status(status_view(record(status="finished", answer_kind="pr",
                                           linked_prs=[{"url": "https://github.com/o/r/pull/8", "title": "T"}]),
                                    2000.0, 60))
    assert "[T](https://github.com/o/r/pull/8)" in prs


def test_replies() -> None:
    assert "**maintain**" in render_refusal("bob", "maintain")
    error = render_command_error(CommandError(2, "/codegen stauts", "`stauts` is not a command.", "status"))
    assert "Did you mean `/codegen status`?" in error and "| `/codegen help` |" in error
    report = render_status_report([status_view(record(), 1001.0, 60)])
    assert "#7" in report and "@alice" in report
