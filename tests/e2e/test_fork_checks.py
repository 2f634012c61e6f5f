"""Fork pull requests (issue 13, item 1): GitHub sends `pull_requests: []` for a fork's head, in check run
and check suite payloads alike. The buttons and merge re-evaluation must still find the pull request."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, pull_request_event, repository
from tests.support.webhooks import payload

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def test_approve_and_run_on_a_fork_finds_its_pull_request(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    pull = fake_github.add_pull(REPO, user="stranger", head_repo="stranger/shop")
    bot = await start_bot()
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id))
    await bot.drain()
    held = next(r for r in fake_github.world.check_runs.values() if r.name == "codegen/build")
    assert held.conclusion == "action_required"
    press = check_run_event(fake_github, REPO, inst.id, held, "requested_action",
                            requested_action={"identifier": "ok-to-test"})
    press["sender"]["login"] = "maintainer"
    await bot.deliver("check_run", press)
    store = bot.server.services.validation.store
    approved = await eventually(lambda: store.approved_by(REPO, pull.head_sha), within=10, what="the approval")
    assert approved == "maintainer"
    await eventually(lambda: [c for c in fake_github.calls("checks/create") if c.json.get("status") == "queued"],
                     within=10, what="the validation to be queued")
    await bot.stop()  # the snapshot itself is another test's business (tests/e2e/test_validation.py)


async def test_a_fork_prs_merge_is_re_evaluated_when_other_ci_finishes(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: true, required_checks: [ci/test]}\n")
    pull = fake_github.add_pull(REPO, user="maintainer", head_repo="octo-org-bot/app")
    bot = await start_bot()
    await bot.record_passed_validation(REPO, pull, inst.id)
    ci = fake_github.add_check_run(REPO, pull.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, ci))
    await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge of the fork's PR")
    assert fake_github.calls("repos/list-pull-requests-associated-with-commit") == []  # the store knew it


async def test_a_suite_request_for_an_unseen_fork_head_finds_its_pull_request_on_github(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    pull = fake_github.add_pull(REPO, user="stranger", head_repo="stranger/shop")  # opened while the bot was down
    bot = await start_bot()
    event = copy.deepcopy(payload("check_suite/requested"))
    repository(event, REPO)
    event["installation"] = {"id": inst.id}
    event["check_suite"].update(head_sha=pull.head_sha, pull_requests=[])
    await bot.deliver("check_suite", event)
    await bot.drain()
    assert len(fake_github.calls("repos/list-pull-requests-associated-with-commit")) == 1
    held = [c.json for c in fake_github.calls("checks/create") if c.json["name"] == "codegen/build"]
    assert held and held[0]["conclusion"] == "action_required" and held[0]["details_url"].endswith(f"/{pull.number}")
