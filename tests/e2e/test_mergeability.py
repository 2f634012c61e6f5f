"""Mergeability as GitHub reports it (issue 13, item 3): null while computing, behind, refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def ready_pull(fake: FakeGitHub, bot: RunningBot, inst_id: int, config: str, statuses: int = 0,
                     **pull: Any) -> Any:
    """A validated PR (with `statuses` passing commit statuses `lint/NN`) whose last required check
    (`ci/test`) then completes: the delivery that triggers the evaluation."""
    fake.set_file(REPO, ".github/codegen.yml", config)
    made = fake.add_pull(REPO, **pull)
    for i in range(statuses):
        fake.add_status(REPO, made.head_sha, f"lint/{i:02d}", "success")
    await bot.record_passed_validation(REPO, made, inst_id)
    run = fake.add_check_run(REPO, made.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake, REPO, inst_id, run, pull_numbers=[made.number]))
    return made


AUTO = "merge: {auto_merge: true, required_checks: [ci/test]}\n"


async def test_null_mergeability_then_true_merges_without_another_event(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    made = await ready_pull(fake_github, bot, inst.id, AUTO)
    fake_github.repo(REPO).pulls[made.number].computing_reads = 2  # two reads answer `mergeable: null`
    merged = await eventually(lambda: fake_github.calls("pulls/merge"), within=20, what="the merge")
    assert merged[0].json["sha"] == made.head_sha
    assert len(fake_github.calls("pulls/get")) >= 3  # looked again while GitHub computed it


async def test_a_branch_behind_its_base_is_updated_when_the_config_allows(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    config = "merge: {auto_merge: true, required_checks: [ci/test], update_branch: true}\n"
    made = await ready_pull(fake_github, bot, inst.id, config, mergeable_state="behind")
    validated = (await bot.server.services.validation.store.latest_for_sha(REPO, made.head_sha)).head_sha  # type: ignore[union-attr]
    (update,) = await eventually(lambda: fake_github.calls("pulls/update-branch"), within=15, what="the update")
    assert update.path_params["pull_number"] == str(made.number) and update.json["expected_head_sha"] == validated
    assert made.head_sha != validated  # GitHub merged the base into the branch: a new head
    assert fake_github.calls("pulls/merge") == []  # the new head is validated before anything merges
    await eventually(lambda: [c for c in fake_github.world.comments.values()
                              if c.issue_number == made.number and "I updated the branch" in c.body],
                     within=10, what="the comment saying the branch was updated")


async def test_a_refused_merge_quotes_github_once_and_is_not_retried(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    message = "refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml`"
    fake_github.fail_next("PUT", "/repos/*/pulls/*/merge", 403, body={"message": message}, times=5)
    made = await ready_pull(fake_github, bot, inst.id, AUTO)
    said = await eventually(lambda: [c.body for c in fake_github.world.comments.values()
                                     if c.issue_number == made.number and "Did not merge" in c.body],
                            within=15, what="the refusal notice")
    assert message in said[0] and len(said) == 1
    await bot.drain()
    assert len(fake_github.calls("pulls/merge")) == 1


async def test_a_required_status_on_the_second_page_counts(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    # 35 statuses: GitHub pages the combined status 30 at a time, newest first, so `lint/00` is on page 2
    config = "merge: {auto_merge: true, required_checks: [ci/test, lint/00]}\n"
    made = await ready_pull(fake_github, bot, inst.id, config, statuses=35)
    merged = await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge")
    assert merged[0].path_params["pull_number"] == str(made.number)
