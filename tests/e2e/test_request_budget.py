"""Events that concern nobody cost no GitHub request (issue 13, item 7): "nobody asked for a merge" is decided
from the config, the labels and the store before anything is gathered."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, repository
from tests.support.webhooks import payload

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]
QUIET = "merge: {auto_merge: false, required_checks: [ci/test]}\n"


async def quiet_pull(fake: FakeGitHub, bot: RunningBot, inst_id: int, config: str = QUIET) -> Any:
    """A PR whose head passed validation, in a repository whose config the bot read a moment ago."""
    fake.set_file(REPO, ".github/codegen.yml", config)
    made = fake.add_pull(REPO)
    await bot.record_passed_validation(REPO, made, inst_id)
    await bot.server.services.config.load("octo-org", "app", made.base_ref, installation_id=inst_id)
    return made


async def settle(bot: RunningBot) -> None:
    await asyncio.sleep(1.5)  # past the merge evaluation's debounce
    await bot.drain()


def tokens(requests: list[Any]) -> list[Any]:
    """Requests made with an installation token (the reconciler's App-level reads use the App's JWT)."""
    return [r for r in requests if r.auth == "token"]


def status_event(fake: FakeGitHub, inst_id: int, sha: str) -> dict[str, Any]:
    data = copy.deepcopy(payload("status/with-installation"))
    repository(data, REPO)
    data.update(sha=sha, context="ci/lint", state="success", installation={"id": inst_id},
                branches=[{"name": "feature", "commit": {"sha": sha, "url": ""}, "protected": False}])
    return data


async def test_check_runs_and_statuses_of_other_apps_cost_nothing_when_nobody_asked(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(reconcile_open_prs=False)  # the reconciler's own reads are not the events'
    made = await quiet_pull(fake_github, bot, inst.id)
    before = len(fake_github.requests)
    for i in range(20):
        run = fake_github.add_check_run(REPO, made.head_sha, f"ci/job-{i}")
        await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, run, pull_numbers=[made.number]))
    await bot.deliver("status", status_event(fake_github, inst.id, made.head_sha))
    await settle(bot)
    assert tokens(fake_github.requests[before:]) == []


async def test_a_standing_merge_request_makes_the_same_event_count(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(reconcile_open_prs=False)  # the reconciler's own reads are not the events'
    made = await quiet_pull(fake_github, bot, inst.id)
    await bot.server.services.merge.prs.set(REPO, made.number, merge_requested_by="maintainer",
                                            merge_requested_sha=made.head_sha)
    run = fake_github.add_check_run(REPO, made.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, run, pull_numbers=[made.number]))
    (merge,) = await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the requested merge")
    assert merge.json["sha"] == made.head_sha


async def test_this_apps_own_check_runs_do_not_start_an_evaluation(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    """The validation that concluded them schedules the evaluation itself when it ends."""
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(reconcile_open_prs=False)  # the reconciler's own reads are not the events'
    made = await quiet_pull(fake_github, bot, inst.id, "merge: {auto_merge: true}\n")
    before = len(fake_github.requests)
    run = fake_github.add_check_run(REPO, made.head_sha, "codegen/test", app_slug=fake_github.app_slug)
    event = check_run_event(fake_github, REPO, inst.id, run, pull_numbers=[made.number])
    event["check_run"]["app"]["id"] = fake_github.app_id
    await bot.deliver("check_run", event)
    await settle(bot)
    assert tokens(fake_github.requests[before:]) == []


async def test_without_a_recent_config_the_job_stops_before_gathering(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(reconcile_open_prs=False)  # the reconciler's own reads are not the events'
    fake_github.set_file(REPO, ".github/codegen.yml", QUIET)
    made = fake_github.add_pull(REPO)
    await bot.record_passed_validation(REPO, made, inst.id)
    run = fake_github.add_check_run(REPO, made.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, run, pull_numbers=[made.number]))
    await settle(bot)
    asked = {r.operation_id for r in fake_github.requests if r.installation_id == inst.id}
    assert "pulls/get" in asked and "repos/get-content" in asked  # it looked: the PR and its config
    assert not asked & {"checks/list-for-ref", "pulls/list-reviews", "repos/get-branch-rules"}  # and no further
