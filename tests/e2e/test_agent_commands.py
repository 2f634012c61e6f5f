"""Slash commands end to end: real bot on loopback, fake GitHub, fake Codegen (both contract-checked)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from bot.store.agent_runs import AgentRunRecord
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


class Thread:
    def __init__(self, fake: FakeGitHub, bot: RunningBot, installation_id: int, number: int) -> None:
        self.fake, self.bot, self.installation_id, self.number = fake, bot, installation_id, number

    async def say(self, body: str, user: str = "maintainer", **kw: Any) -> int:
        event = issue_comment_event(self.fake, REPO, self.number, self.installation_id, body, user=user, **kw)
        status, _ = await self.bot.deliver("issue_comment", event)
        assert status == 202
        await self.bot.drain()
        return int(event["comment"]["id"])

    async def runs(self) -> list[AgentRunRecord]:
        return await self.bot.server.services.agent_runs.conversation_runs(REPO, self.number)

    async def wait_for(self, status: str, index: int = -1, within: float = 20.0) -> AgentRunRecord:
        seen: list[AgentRunRecord] = []

        async def reached() -> bool:
            seen[:] = await self.runs()
            return bool(seen) and seen[index].status == status

        await eventually(reached, within=within, interval=0.02,
                         what=lambda: f"the run to reach {status}: {seen}")
        await self.bot.drain()
        return (await self.runs())[index]

    def comments(self) -> list[Any]:
        return [c for c in self.fake.world.comments.values() if c.repo == REPO and c.issue_number == self.number]

    def bot_comments(self) -> list[Any]:
        return [c for c in self.comments() if c.user == f"{self.fake.app_slug}[bot]"]

    def replies(self) -> list[str]:
        return [c.body for c in self.bot_comments() if "codegen-bot:run:" not in c.body]


def codegen_settings(fake_codegen: FakeCodegen, **extra: Any) -> dict[str, Any]:
    return {
        "codegen_api_url": fake_codegen.url, "codegen_api_token": fake_codegen.token,
        "codegen_org_id": fake_codegen.org_id, "agent_poll_seconds": 0.02, **extra,
    }


@pytest_asyncio.fixture
async def issue(fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot) -> Thread:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_permission(REPO, "visitor", "read")
    number = fake_github.add_issue(REPO, title="Uploads are not rate limited", body="Anyone can flood /upload.").number
    bot = await start_bot(**codegen_settings(fake_codegen))
    return Thread(fake_github, bot, inst.id, number)


@pytest_asyncio.fixture
async def pull(fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot) -> Thread:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    number = fake_github.add_pull(REPO, title="Add uploads", head_ref="feature/uploads").number
    bot = await start_bot(**codegen_settings(fake_codegen))
    return Thread(fake_github, bot, inst.id, number)


def reactions(fake: FakeGitHub, comment_id: int) -> list[str]:
    return [r.content for r in fake.world.comments[comment_id].reactions]


async def test_start_from_an_issue_runs_the_agent_and_keeps_one_status_comment(
    issue: Thread, fake_codegen: FakeCodegen
) -> None:
    fake_codegen.script("rate limiting", [
        {"status": "ACTIVE"}, {"status": "ACTIVE"},
        {"status": "COMPLETE", "result": "I looked into it: uploads go through `upload()` in app.py."},
    ])
    comment_id = await issue.say("Please have a look.\n/codegen add rate limiting to the upload endpoint")
    assert reactions(issue.fake, comment_id) == ["eyes"]
    run = await issue.wait_for("finished")
    assert run.answer_kind == "regular" and run.codegen_run_id in fake_codegen.runs
    created = fake_codegen.runs[run.codegen_run_id]
    assert created.prompt.startswith("add rate limiting to the upload endpoint")
    assert "Uploads are not rate limited" in created.prompt and "Anyone can flood /upload." in created.prompt
    assert f"#{issue.number}" in created.prompt
    assert created.metadata is not None
    mark = created.metadata["codegen_bot"]
    assert mark.pop("url").endswith(f"/{REPO}/issues/{issue.number}")
    assert mark == {"run_id": run.id, "repo": REPO, "number": issue.number, "kind": "issue", "comment_id": comment_id}
    (status,) = issue.bot_comments()  # one comment, edited in place
    assert f"<!-- codegen-bot:run:{run.id} -->" in status.body
    assert "uploads go through `upload()`" in status.body and "/codegen continue" in status.body
    assert issue.fake.calls("issues/update-comment"), "the status comment was never edited"
    assert len(issue.fake.calls("issues/create-comment")) == 1


async def test_pr_answer_links_the_pr_and_a_pr_thread_prompt_names_its_branch(
    pull: Thread, fake_codegen: FakeCodegen
) -> None:
    fake_codegen.script("flaky test", [{"status": "COMPLETE", "result": "Pushed a fix.",
                        "github_pull_requests": [{"id": 1, "title": "Add uploads", "created_at": "2026-11-24T00:00:00Z",
                                                  "url": f"https://github.com/{REPO}/pull/{pull.number}",
                                                  "head_branch_name": "feature/uploads"}]}])
    await pull.say("/codegen make the flaky test reliable")
    run = await pull.wait_for("finished")
    prompt = fake_codegen.runs[run.codegen_run_id].prompt
    assert "Push your changes to the branch `feature/uploads`" in prompt
    assert run.answer_kind == "pr"
    assert await pull.bot.server.services.agent_runs.run_for_pr(REPO, pull.number) is not None
    (status,) = pull.bot_comments()
    assert f"https://github.com/{REPO}/pull/{pull.number}" in status.body and "validated" in status.body


PLAN = "## Proposed plan\n1. Add a limiter\n2. Add a test\n\nShall I proceed?"


async def test_plan_then_confirm_then_modify_resume_the_same_run(issue: Thread, fake_codegen: FakeCodegen) -> None:
    fake_codegen.script("limit uploads", [{"status": "COMPLETE", "result": PLAN}])
    await issue.say("/codegen limit uploads")
    run = await issue.wait_for("finished")
    assert run.answer_kind == "plan"
    status = issue.bot_comments()[0].body
    assert "1. Add a limiter" in status and "/codegen confirm" in status and "/codegen modify" in status

    fake_codegen.script_resume(run.codegen_run_id, [{"status": "ACTIVE"}, {"status": "COMPLETE", "result": PLAN}])
    await issue.say("/codegen modify use a token bucket")
    await issue.wait_for("finished")
    assert fake_codegen.runs[run.codegen_run_id].prompts[-1].endswith("use a token bucket")

    await issue.say("/codegen confirm")
    run = await issue.wait_for("finished")
    assert fake_codegen.runs[run.codegen_run_id].prompts[-1] == "Proceed"
    assert run.answer_kind == "regular" and run.result == "Done again."
    assert len(issue.bot_comments()) == 1  # still one status comment; no reply was needed


async def test_continue_needs_a_finished_run_and_confirm_needs_a_plan(issue: Thread, fake_codegen: FakeCodegen) -> None:
    await issue.say("/codegen continue with more details")
    assert "no agent run in this thread" in issue.replies()[-1]
    fake_codegen.script("explain", [{"status": "COMPLETE", "result": "It is explained."}])
    await issue.say("/codegen explain the upload code")
    await issue.wait_for("finished")
    await issue.say("/codegen confirm")
    assert "did not propose one" in issue.replies()[-1]
    await issue.say("/codegen continue and the download code")
    run = await issue.wait_for("finished")
    assert fake_codegen.runs[run.codegen_run_id].prompts[-1].endswith("and the download code")


async def test_cancel_stops_following_an_active_run(issue: Thread, fake_codegen: FakeCodegen) -> None:
    fake_codegen.script("long job", [{"status": "ACTIVE"}] * 1000)
    await issue.say("/codegen long job")
    await issue.wait_for("running")
    await issue.say("/codegen cancel")
    run = await issue.wait_for("cancelled")
    polls = len(fake_codegen.calls(_GET_RUN))
    await asyncio.sleep(0.3)
    assert len(fake_codegen.calls(_GET_RUN)) == polls, "a cancelled run is still being polled"
    body = issue.bot_comments()[0].body
    assert "cancelled by @maintainer" in body and f"codegen-bot:run:{run.id}" in body


_GET_RUN = "get_agent_run_v1_organizations__org_id__agent_run__agent_run_id__get"


async def test_status_help_and_errors_always_answer(issue: Thread) -> None:
    await issue.say("/codegen status")
    assert "No agent runs in this thread" in issue.replies()[-1]
    await issue.say("/codegen help")
    assert "What you can ask me here" in issue.replies()[-1] and "| `start` |" in issue.replies()[-1]
    comment_id = await issue.say("/codegen stauts")
    assert "Did you mean `/codegen status`?" in issue.replies()[-1] and reactions(issue.fake, comment_id) == ["eyes"]
    await issue.say("/codegen modify")
    assert "needs the change to the plan" in issue.replies()[-1]
    await issue.say("/codegen")
    assert "needs a sub-command" in issue.replies()[-1]


async def test_quoted_fenced_edited_and_bot_comments_never_run(issue: Thread, fake_codegen: FakeCodegen) -> None:
    await issue.say("> /codegen delete everything\n```\n/codegen delete everything\n```")
    await issue.say("/codegen delete everything", user="helper[bot]", user_type="Bot")
    event = issue_comment_event(issue.fake, REPO, issue.number, issue.installation_id, "/codegen x", user="maintainer")
    event["action"] = "edited"
    await issue.bot.deliver("issue_comment", event)
    await issue.bot.drain()
    assert fake_codegen.runs == {} and issue.bot_comments() == []


async def test_users_below_min_permission_are_refused_once_per_ten_minutes(
    issue: Thread, fake_codegen: FakeCodegen
) -> None:
    comment_id = await issue.say("/codegen add rate limiting", user="visitor")
    assert reactions(issue.fake, comment_id) == ["confused"]
    assert "these commands need `write` permission" in issue.replies()[-1]
    assert fake_codegen.runs == {}
    for text in ("/codegen status", "/codegen add more", "/codegen merge"):  # a visitor insisting
        again = await issue.say(text, user="visitor")
        assert reactions(issue.fake, again) == ["confused"]
    refusals = [body for body in issue.replies() if "@visitor" in body]
    assert len(refusals) == 1  # one reply per user per thread per 10 minutes; 😕 answers the rest


async def test_agent_permissions_open_or_close_single_commands_and_help_says_which(
    issue: Thread, fake_codegen: FakeCodegen
) -> None:
    issue.fake.set_file(REPO, ".github/codegen.yml",
                        "agent:\n  permissions: {status: read, help: read, start: maintain}\n")
    issue.fake.set_permission(REPO, "reader", "read")
    await issue.say("/codegen status", user="reader")
    assert "No agent runs in this thread" in issue.replies()[-1]
    await issue.say("/codegen help", user="reader")
    help_text = issue.replies()[-1]
    assert "your permission: `read`" in help_text and "| `status` |" in help_text and "| `start` |" not in help_text
    assert "`start` (needs `maintain` permission)" in help_text
    await issue.say("/codegen add rate limiting")  # a writer: start needs maintain here
    assert "these commands need `maintain` permission" in issue.replies()[-1] and fake_codegen.runs == {}


async def test_min_permission_comes_from_the_repo_config(issue: Thread, fake_codegen: FakeCodegen) -> None:
    issue.fake.set_file(REPO, ".github/codegen.yml", "agent:\n  min_permission: maintain\n  prompt_prefix: BE BRIEF\n")
    comment_id = await issue.say("/codegen add rate limiting")
    assert reactions(issue.fake, comment_id) == ["confused"] and fake_codegen.runs == {}
    issue.fake.set_permission(REPO, "lead", "maintain")
    await issue.say("/codegen add rate limiting", user="lead")
    run = await issue.wait_for("finished")
    assert fake_codegen.runs[run.codegen_run_id].prompt.startswith("BE BRIEF\n\nadd rate limiting")


async def test_several_commands_in_one_comment_run_in_order(issue: Thread, fake_codegen: FakeCodegen) -> None:
    await issue.say("/codegen help\n/codegen status")
    replies = issue.replies()
    assert "What you can ask me here" in replies[-2] and "No agent runs" in replies[-1]


async def test_rate_limits_and_failures_are_reported(issue: Thread, fake_codegen: FakeCodegen) -> None:
    fake_codegen.fail_next("POST", "/v1/organizations/*/agent/run", 429, times=1, retry_after=1)
    fake_codegen.script("first", [{"status": "FAILED", "result": None}])
    await issue.say("/codegen first try")
    run = await issue.wait_for("failed")
    assert len(fake_codegen.calls(_CREATE)) == 2  # the 429 was waited out and retried
    assert "The agent run failed" in issue.bot_comments()[0].body and "FAILED" in (run.error or "")
    fake_codegen.quota_left = 0
    await issue.say("/codegen second try")
    await issue.wait_for("failed")
    assert "quota" in issue.bot_comments()[-1].body


_CREATE = "create_agent_run_v1_organizations__org_id__agent_run_post"


async def test_a_rate_limit_that_outlasts_the_client_retries_delays_the_run_and_never_fails_it(
    issue: Thread, fake_codegen: FakeCodegen
) -> None:
    """Issue 14: a 429 is not a refusal; the start job comes back after Retry-After."""
    fake_codegen.fail_next("POST", "/v1/organizations/*/agent/run", 429, times=4, retry_after=1)
    fake_codegen.script("patient", [{"status": "COMPLETE", "result": "Done after the wait."}])
    await issue.say("/codegen be patient")
    run = await issue.wait_for("finished")
    assert run.result == "Done after the wait."
    assert len(fake_codegen.calls(_CREATE)) == 5 and len(fake_codegen.runs) == 1
    assert not any("refused" in c.body for c in issue.bot_comments())


async def test_a_restart_while_a_run_is_active_resumes_polling(
    issue: Thread, fake_codegen: FakeCodegen, start_bot: StartBot
) -> None:
    # eight polls (about 0.8 s at this test's poll interval): long enough to see the run `running` and stop
    fake_codegen.script("survive", [{"status": "ACTIVE"}] * 8 + [{"status": "COMPLETE", "result": "Survived."}])
    await issue.say("/codegen survive a restart")
    await issue.wait_for("running")
    await issue.bot.stop()
    bot = await start_bot(**codegen_settings(fake_codegen))
    again = Thread(issue.fake, bot, issue.installation_id, issue.number)
    run = await again.wait_for("finished")
    assert run.result == "Survived."
    (status,) = again.bot_comments()
    assert "Survived." in status.body


async def test_a_run_without_progress_is_marked_stale(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    number = fake_github.add_issue(REPO).number
    bot = await start_bot(**codegen_settings(fake_codegen, agent_run_stale_minutes=1))
    thread = Thread(fake_github, bot, inst.id, number)
    fake_codegen.script("stuck", [{"status": "ACTIVE"}] * 1000)
    await thread.say("/codegen stuck forever")
    await thread.wait_for("running")

    async def active() -> bool:  # its last progress is behind us
        return (await thread.runs())[-1].codegen_status == "ACTIVE"

    await eventually(active, within=20, interval=0.02, what="Codegen to report the run ACTIVE")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    run = await thread.wait_for("stale")
    assert "No progress seen for more than 1 minutes" in thread.bot_comments()[0].body
    assert run.status == "stale"


async def test_a_team_rule_admits_the_teams_members_and_admins_only(issue: Thread) -> None:
    issue.fake.set_file(REPO, ".github/codegen.yml", "agent:\n  permissions: {status: '@octo-org/release'}\n")
    issue.fake.add_team_member("octo-org", "release", "rel")
    issue.fake.add_team_member("octo-org", "release", "invited", state="pending")
    for user, role in (("rel", "write"), ("invited", "write"), ("boss", "admin")):
        issue.fake.set_permission(REPO, user, role)
    await issue.say("/codegen status", user="rel")
    assert "No agent runs in this thread" in issue.replies()[-1]
    await issue.say("/codegen status", user="invited")  # an invitation is not a membership
    assert "these commands need membership of `@octo-org/release`" in issue.replies()[-1]
    await issue.say("/codegen status", user="boss")  # admins always may: a mistyped team locks nobody out
    assert "No agent runs in this thread" in issue.replies()[-1]
    lookups = issue.fake.calls("teams/get-membership-for-user-in-org")
    assert sorted(c.path_params["username"] for c in lookups) == ["invited", "rel"]  # none for the admin
