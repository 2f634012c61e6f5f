"""Under `merge.auto_merge: true` the bot says why a PR does not merge without being asked, in one comment
per pull request that is edited in place: once per blocking reason per head SHA (issue 14, item 5), each
reason linked to where a person resolves it, and marked resolved in place once the PR merged (issue 15)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.fakes.github_bodies_base import HTML
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event

REPO = "octo-org/app"
AUTO = "merge: {auto_merge: true, required_checks: [ci/test, ci/lint]}\n"
StartBot = Callable[..., Awaitable[RunningBot]]


def notices(fake: FakeGitHub, number: int) -> list[Any]:
    return [c for c in fake.world.comments.values() if c.issue_number == number and "**Not merged**" in c.body]


async def fail(fake: FakeGitHub, bot: RunningBot, inst_id: int, pull: Any, name: str) -> None:
    run = fake.add_check_run(REPO, pull.head_sha, name, conclusion="failure")
    await bot.deliver("check_run", check_run_event(fake, REPO, inst_id, run, pull_numbers=[pull.number]))
    await asyncio.sleep(1.5)  # past the debounce
    await bot.drain()


async def test_one_notice_edited_in_place_per_reason_and_head(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    fake_github.set_file(REPO, ".github/codegen.yml", AUTO)
    pull = fake_github.add_pull(REPO)
    await bot.record_passed_validation(REPO, pull, inst.id)
    await fail(fake_github, bot, inst.id, pull, "ci/test")
    (notice,) = await eventually(lambda: notices(fake_github, pull.number), within=10, what="the notice")
    assert "`ci/test` concluded `failure`" in notice.body and pull.head_sha[:12] in notice.body
    html_url = f"{HTML}/{REPO}/pull/{pull.number}"
    assert f"- required check `ci/test` concluded `failure` ([checks]({html_url}/checks))" in notice.body

    await fail(fake_github, bot, inst.id, pull, "ci/docs")  # not required: the same reasons
    assert fake_github.calls("issues/update-comment") == []
    assert len(notices(fake_github, pull.number)) == 1

    await fail(fake_github, bot, inst.id, pull, "ci/lint")  # a new reason: the same comment says it
    (edited,) = notices(fake_github, pull.number)
    assert edited.id == notice.id and "`ci/lint` concluded `failure`" in edited.body

    pull.head_sha = "f" * 40  # a new head, validated, failing the same way: said for that head
    await bot.record_passed_validation(REPO, pull, inst.id)
    await fail(fake_github, bot, inst.id, pull, "ci/test")
    (again,) = notices(fake_github, pull.number)
    assert again.id == notice.id and ("f" * 12) in again.body
    assert len(fake_github.calls("issues/create-comment")) == 1


async def test_the_notice_is_marked_resolved_when_the_pull_request_merges(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: true, required_checks: [ci/test]}\n")
    pull = fake_github.add_pull(REPO, draft=True)
    await bot.record_passed_validation(REPO, pull, inst.id)
    await fail(fake_github, bot, inst.id, pull, "ci/lint")  # not required; the draft blocks
    (notice,) = await eventually(lambda: notices(fake_github, pull.number), within=10, what="the notice")
    assert "the pull request is a draft" in notice.body

    pull.draft, pull.mergeable_state = False, "clean"
    fake_github.add_check_run(REPO, pull.head_sha, "ci/test")
    await fail(fake_github, bot, inst.id, pull, "ci/docs")  # another event: now it merges
    await eventually(lambda: fake_github.calls("pulls/merge"), within=10, what="the merge")
    await bot.drain()
    resolved = fake_github.world.comments[notice.id]
    assert resolved.body.startswith("✅ **Resolved**: merged") and "draft" not in resolved.body
    assert len(fake_github.calls("issues/create-comment")) == 2  # the notice, and the merge report


async def test_a_review_a_ruleset_requires_is_named_in_the_notice(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: true, required_checks: [ci/test]}\n")
    fake_github.set_branch_rules(REPO, "main", [{"type": "pull_request", "parameters": {
        "required_approving_review_count": 1, "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": False, "require_last_push_approval": False,
        "required_review_thread_resolution": False}}])
    pull = fake_github.add_pull(REPO)
    await bot.record_passed_validation(REPO, pull, inst.id)
    fake_github.add_check_run(REPO, pull.head_sha, "ci/test")
    await fail(fake_github, bot, inst.id, pull, "ci/docs")  # an event; every check passed, a review is missing
    (notice,) = await eventually(lambda: notices(fake_github, pull.number), within=10, what="the notice")
    html_url = f"{HTML}/{REPO}/pull/{pull.number}"
    assert f"- it needs 1 approving review(s) and has 0 ([review it]({html_url}/files))" in notice.body
    assert fake_github.calls("pulls/merge") == []
