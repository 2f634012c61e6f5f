"""The bot's merge train (`merge.train`, issue 15 item 4), against the fake GitHub: ready pull requests merge
one at a time in the order they became ready; the front, when behind its base, is updated and waits for the
new head's validation; the others wait and say their place in line; a front whose validation fails on top
of the base leaves the train and the next one goes. (The same with real git and Docker, where the update
really merges and a behaviour conflict really fails: tests/e2e/test_merge_train_git.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event

REPO = "octo-org/app"
TRAIN = "merge: {auto_merge: true, train: true, required_checks: [ci/test]}\n"
StartBot = Callable[..., Awaitable[RunningBot]]


async def ready(fake: FakeGitHub, bot: RunningBot, inst_id: int, pull: Any) -> None:
    """The PR's head passed our validation and `ci/test`; the check's event is delivered."""
    await bot.record_passed_validation(REPO, pull, inst_id)
    ci = fake.add_check_run(REPO, pull.head_sha, "ci/test")
    await bot.deliver("check_run", check_run_event(fake, REPO, inst_id, ci, pull_numbers=[pull.number]))


def merged(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(c.path_params["pull_number"], c.json["sha"]) for c in fake.calls("pulls/merge")]


async def test_ready_pull_requests_merge_one_at_a_time_and_the_front_is_updated_first(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_file(REPO, ".github/codegen.yml", TRAIN)
    first, second = fake_github.add_pull(REPO, head_ref="first"), fake_github.add_pull(REPO, head_ref="second")
    fake_github.set_comparison(REPO, "main", first.head_sha, status="diverged", behind_by=2)
    fake_github.set_comparison(REPO, "main", second.head_sha, status="ahead")
    bot = await start_bot(reconcile_open_prs=False)  # the heads here are not in any git repository
    old_head = first.head_sha
    await ready(fake_github, bot, inst.id, first)
    (update,) = await eventually(lambda: fake_github.calls("pulls/update-branch"), within=15, what="the update")
    assert update.json["expected_head_sha"] == old_head and first.head_sha != old_head
    await bot.drain()

    await ready(fake_github, bot, inst.id, second)

    def in_line() -> list[str]:
        return [c.body for c in fake_github.world.comments.values()
                if c.issue_number == second.number and "in line" in c.body]

    notice = await eventually(in_line, within=15, what="the second pull request's place in line")
    await bot.drain()
    assert len(notice) == 1 and f"2nd in line in the merge train, after #{first.number}" in notice[0]
    assert merged(fake_github) == []  # the front waits for its updated head's validation; nobody overtakes

    fake_github.set_comparison(REPO, "main", first.head_sha, status="ahead")  # the update contains main
    await ready(fake_github, bot, inst.id, first)
    await eventually(lambda: len(merged(fake_github)) == 2, within=15, what="both merges")
    assert merged(fake_github) == [(str(first.number), first.head_sha), (str(second.number), second.head_sha)]
    assert await bot.server.services.merge.prs.train_line(REPO, "main") == []


async def test_a_front_whose_validation_fails_leaves_the_train_and_the_next_goes(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_file(REPO, ".github/codegen.yml", TRAIN)
    first, second = fake_github.add_pull(REPO, head_ref="first"), fake_github.add_pull(REPO, head_ref="second")
    fake_github.set_comparison(REPO, "main", first.head_sha, status="diverged", behind_by=1)
    fake_github.set_comparison(REPO, "main", second.head_sha, status="ahead")
    bot = await start_bot(reconcile_open_prs=False)  # the heads here are not in any git repository
    await ready(fake_github, bot, inst.id, first)
    await eventually(lambda: fake_github.calls("pulls/update-branch"), within=15, what="the update")
    await bot.drain()
    await ready(fake_github, bot, inst.id, second)
    await eventually(lambda: [c for c in fake_github.world.comments.values() if "in line" in c.body], within=15,
                     what="the second pull request in line")
    assert merged(fake_github) == []

    # the updated head's validation fails (on top of the base): its end evaluates the PR again
    store = bot.server.services.validation.store
    record = await store.create(repo=REPO, pr_number=first.number, head_sha=first.head_sha, head_ref="first",
                                clone_url=None, installation_id=inst.id, state="done", trigger="test")
    await store.update(record.id, passed=False)
    await bot.server.services.merge.schedule(REPO, first.number, inst.id, delay=0)

    await eventually(lambda: merged(fake_github), within=15, what="the next pull request's merge")
    assert merged(fake_github) == [(str(second.number), second.head_sha)]
    left = [c.body for c in fake_github.world.comments.values()
            if c.issue_number == first.number and "Left the merge train" in c.body]
    assert len(left) == 1
