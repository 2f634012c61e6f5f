"""Auto-fix sends a failure back only to a run that finished: never to one a person cancelled, that failed,
or that went stale (issue 14, item 5). A **Fix with Codegen** press handled twice (its delivery re-run after a
crash) starts one agent run and answers once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.store.delivery_body import pack
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import check_run_event
from validators.outcome import StageOutcome, ValidationReport

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]
RESUME = "resume_agent_run_v1_organizations__org_id__agent_run_resume_post"
CREATE = "create_agent_run_v1_organizations__org_id__agent_run_post"


@pytest.mark.parametrize("status, resumed", [
    ("finished", True), ("cancelled", False), ("failed", False), ("stale", False),
])
async def test_only_a_finished_run_is_resumed(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot, status: str, resumed: bool
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(codegen_api_url=fake_codegen.url, codegen_api_token=fake_codegen.token,
                          codegen_org_id=fake_codegen.org_id)
    services = bot.server.services
    pull = fake_github.add_pull(REPO, head_ref="codegen/fix")
    fake_codegen.script("add a thing", [{"status": "COMPLETE", "result": "Opened a PR."}])
    assert services.agent.codegen is not None
    codegen_run = await services.agent.codegen.create_run(fake_codegen.org_id, "add a thing")
    run = await services.agent_runs.create(repo=REPO, number=1, thread_kind="issue", installation_id=inst.id,
                                           command="add a thing", requested_by="dev", command_comment_id=None)
    await services.agent_runs.update(run.id, status=status, codegen_run_id=codegen_run.id,
                                     codegen_org_id=fake_codegen.org_id)
    await services.agent_runs.link_pr(run.id, REPO, pull.number)
    record = await services.validation.store.create(
        repo=REPO, pr_number=pull.number, head_sha=pull.head_sha, head_ref=pull.head_ref,
        clone_url=f"https://github.example/{REPO}.git", installation_id=inst.id, state="done", trigger="test")
    report = ValidationReport(record.id, REPO, pull.head_sha, outcomes={
        "test": StageOutcome("test", "failure", "test: failed", "1 test failed", text="AssertionError: boom")})
    await services.auto_fix.after_validation(record, report)
    await bot.drain()
    assert bool(fake_codegen.calls(RESUME)) is resumed
    after = await services.agent_runs.get(run.id)
    assert after is not None and (after.status == status or resumed)


async def test_a_fix_button_press_handled_again_starts_one_run_and_answers_once(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot, tmp_path: Path
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    pull = fake_github.add_pull(REPO, head_ref="feature", user="maintainer")
    settings = {"codegen_api_url": fake_codegen.url, "codegen_api_token": fake_codegen.token,
                "codegen_org_id": fake_codegen.org_id, "agent_poll_seconds": 0.05}
    bot = await start_bot(**settings)
    store = bot.server.services.validation.store
    record = await store.create(repo=REPO, pr_number=pull.number, head_sha=pull.head_sha, head_ref=pull.head_ref,
                                clone_url=None, installation_id=inst.id, state="done", trigger="test")
    report = ValidationReport(record.id, REPO, pull.head_sha, outcomes={
        "test": StageOutcome("test", "failure", "test: failed", "1 test failed", text="AssertionError: boom")})
    await store.update(record.id, passed=False, report=report.to_json())
    fake_codegen.script("AssertionError", [{"status": "COMPLETE", "result": "Fixed."}])
    failed = fake_github.add_check_run(REPO, pull.head_sha, "codegen/test", conclusion="failure")
    press = check_run_event(fake_github, REPO, inst.id, failed, "requested_action",
                            requested_action={"identifier": "fix"})
    press["sender"]["login"] = "maintainer"
    await bot.deliver("check_run", press, delivery_id="fix-press-1")
    await bot.drain()
    await bot.stop()
    # as if the process had died before the press was recorded handled: it is handled again at start-up
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute("UPDATE deliveries SET state = 'pending', done_callbacks = '[]', body = ?"
                     " WHERE id = 'fix-press-1'", (pack(json.dumps(press).encode()),))
    bot = await start_bot(**settings)
    await bot.drain()

    assert len(fake_codegen.calls(CREATE)) == 1
    thread = [c for c in fake_github.world.comments.values() if c.repo == REPO and c.issue_number == pull.number]
    assert len([c for c in thread if "pressed **Fix with Codegen**" in c.body]) == 1
    assert len([c for c in thread if "<!-- codegen-bot:run:" in c.body]) == 1
