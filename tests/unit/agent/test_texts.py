"""Texts the agent feature posts (pure): the prompt template and the run's status comment."""

from __future__ import annotations

from handlers.agent.prompt import MAX_PROMPT_CHARS, PromptContext, build_prompt, build_resume_prompt
from handlers.agent.status import status_view
from handlers.agent.texts import render_status
from tests.support.agent_run_record import agent_run_record as record


def test_prompt_for_a_pr_and_an_issue() -> None:
    ctx = PromptContext(command="make it faster", repo="o/r", kind="pull_request", number=5, title="Speed",
                        body="Slow page", html_url="https://github.com/o/r/pull/5", head_branch="feat",
                        base_branch="main", comments=[("bob", "old"), ("carol", "newest")], prompt_prefix="Be brief.")
    prompt = build_prompt(ctx)
    assert prompt.startswith("Be brief.\n\nmake it faster")
    assert "Push your changes to the branch `feat`" in prompt and "Slow page" in prompt
    assert prompt.index("comment by @bob") < prompt.index("comment by @carol") < prompt.index("newest")
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
