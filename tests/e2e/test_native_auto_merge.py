"""GitHub's own auto-merge (issue 13, item 4): enabled while the decision is still *wait*, for exactly the
validated head, once; refused, the bot merges with `PUT /merge`; a push turns it off.

The fake GitHub refuses `enablePullRequestAutoMerge` as GitHub does (tests/fakes/github_graphql.py): on a
repository whose "Allow auto-merge" is off, and on a pull request that is already clean."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, pull_request_event

REPO = "octo-org/app"
NATIVE = "merge: {auto_merge: true, use_github_auto_merge: true, required_checks: [ci/test]}\n"
StartBot = Callable[..., Awaitable[RunningBot]]
ENABLE = "graphql/enablePullRequestAutoMerge"


async def waiting_pull(fake: FakeGitHub, bot: RunningBot, inst_id: int, *, state: str = "blocked") -> Any:
    """A validated PR whose `ci/test` (required by branch protection) is still running; another app's
    `ci/lint` completing is the delivery that triggers the evaluation."""
    fake.set_file(REPO, ".github/codegen.yml", NATIVE)
    fake.protect_branch(REPO, "main", required_contexts=["ci/test"])
    made = fake.add_pull(REPO, mergeable_state=state)  # GitHub says "blocked" while a required check runs
    await bot.record_passed_validation(REPO, made, inst_id)
    fake.add_check_run(REPO, made.head_sha, "ci/test", status="in_progress")
    await deliver_check(fake, bot, inst_id, made, "ci/lint")
    return made


async def deliver_check(fake: FakeGitHub, bot: RunningBot, inst_id: int, made: Any, name: str) -> None:
    run = fake.add_check_run(REPO, made.head_sha, name)
    await bot.deliver("check_run", check_run_event(fake, REPO, inst_id, run, pull_numbers=[made.number]))


def comments_with(fake: FakeGitHub, number: int, text: str) -> list[str]:
    return [c.body for c in fake.world.comments.values() if c.issue_number == number and text in c.body]


async def test_enabled_once_for_the_validated_head_while_a_required_check_runs(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    made = await waiting_pull(fake_github, bot, inst.id)
    (enable,) = await eventually(lambda: fake_github.calls(ENABLE), within=15, what="auto-merge enabled")
    assert enable.json["variables"]["expectedHeadOid"] == made.head_sha
    assert fake_github.repo(REPO).pulls[made.number].auto_merge is not None
    await bot.drain()
    await deliver_check(fake_github, bot, inst.id, made, "ci/docs")  # another event: nothing new to do
    await bot.drain()
    assert len(fake_github.calls(ENABLE)) == 1
    assert len(comments_with(fake_github, made.number, "auto-merge is enabled for exactly this commit")) == 1
    assert fake_github.calls("pulls/merge") == []  # GitHub merges it; the bot does not race it


async def test_not_enabled_while_our_own_validation_of_the_head_is_missing(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    fake_github.set_file(REPO, ".github/codegen.yml", NATIVE)
    fake_github.protect_branch(REPO, "main", required_contexts=["ci/test"])
    made = fake_github.add_pull(REPO, mergeable_state="blocked")  # no passed validation recorded
    fake_github.add_check_run(REPO, made.head_sha, "ci/test", status="in_progress")
    await deliver_check(fake_github, bot, inst.id, made, "ci/lint")
    await eventually(lambda: fake_github.calls("pulls/get"), within=15, what="the evaluation")
    await bot.drain()
    assert fake_github.calls(ENABLE) == []


async def test_refused_by_the_repository_setting_the_bot_merges_itself(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.add_repo(REPO).allow_auto_merge = False
    bot = await start_bot()
    made = await waiting_pull(fake_github, bot, inst.id)
    said = await eventually(lambda: comments_with(fake_github, made.number, "did not enable its auto-merge"),
                            within=15, what="the refusal notice")
    assert "Auto merge is not allowed for this repository" in said[0]
    pull = fake_github.repo(REPO).pulls[made.number]
    for run in fake_github.world.check_runs.values():
        if run.head_sha == made.head_sha and run.name == "ci/test":
            run.status, run.conclusion = "completed", "success"
    pull.mergeable_state = "clean"
    await deliver_check(fake_github, bot, inst.id, made, "ci/docs")
    (merge,) = await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the bot's own merge")
    assert merge.json["sha"] == made.head_sha
    assert len(fake_github.calls(ENABLE)) == 1  # tried once for this head
    said = [c for op in ("issues/create-comment", "issues/update-comment") for c in fake_github.calls(op)
            if "did not enable its auto-merge" in (c.json or {}).get("body", "")]
    assert len(said) == 1  # said once (the notice is marked resolved once merged)


async def test_refused_as_already_clean_falls_back_to_put_merge(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    made = await waiting_pull(fake_github, bot, inst.id, state="clean")
    await eventually(lambda: fake_github.calls(ENABLE), within=15, what="the attempt")
    await bot.drain()
    assert fake_github.repo(REPO).pulls[made.number].auto_merge is None
    assert comments_with(fake_github, made.number, "auto-merge") == []  # "already clean" is not news
    for run in fake_github.world.check_runs.values():
        if run.head_sha == made.head_sha and run.name == "ci/test":
            run.status, run.conclusion = "completed", "success"
    await deliver_check(fake_github, bot, inst.id, made, "ci/docs")
    (merge,) = await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the fallback merge")
    assert merge.json["sha"] == made.head_sha
    assert len(fake_github.calls(ENABLE)) == 1


async def test_a_clean_validated_pull_request_is_merged_without_graphql(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    fake_github.set_file(REPO, ".github/codegen.yml", NATIVE)
    made = fake_github.add_pull(REPO)
    await bot.record_passed_validation(REPO, made, inst.id)
    await deliver_check(fake_github, bot, inst.id, made, "ci/test")
    (merge,) = await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge")
    assert merge.json["sha"] == made.head_sha
    assert fake_github.calls(ENABLE) == []


async def test_a_push_turns_github_auto_merge_off(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    made = await waiting_pull(fake_github, bot, inst.id)
    await eventually(lambda: fake_github.calls(ENABLE), within=15, what="auto-merge enabled")
    await bot.drain()
    pull = fake_github.repo(REPO).pulls[made.number]
    old_head = pull.head_sha
    pull.head_sha = "e" * 40  # a writer pushes: GitHub would keep its auto-merge on
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, made.number, inst.id, "synchronize"))
    await eventually(lambda: fake_github.calls("graphql/disablePullRequestAutoMerge"), within=15,
                     what="auto-merge turned off")
    assert pull.auto_merge is None
    said = await eventually(lambda: comments_with(fake_github, made.number, "is turned off"), within=10,
                            what="the notice")
    assert old_head[:12] in said[0]
