"""Auto-fix sends a failure back only to a run that finished: never to one a person cancelled, that failed,
or that went stale (issue 14, item 5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from validators.outcome import StageOutcome, ValidationReport

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]
RESUME = "resume_agent_run_v1_organizations__org_id__agent_run_resume_post"


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
