"""Withdrawing a merge (issue 15, item 3), against the fake GitHub: `/codegen merge cancel` takes back a
standing request, the automerge label and GitHub's auto-merge, and says what it took; `/codegen hold` puts
the `codegen: hold` label on, which blocks every merge path (auto-merge included) until it is removed; the
label added by hand turns GitHub's auto-merge off."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.fakes.github_state import IssueEvent
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, issue_comment_event, pull_request_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]
DISABLE = "graphql/disablePullRequestAutoMerge"


class Pull:
    """A validated pull request whose required `ci/test` is still running."""

    def __init__(self, fake: FakeGitHub, bot: RunningBot, inst_id: int, config: str) -> None:
        self.fake, self.bot, self.inst_id = fake, bot, inst_id
        fake.set_permission(REPO, "maintainer", "write")
        fake.set_file(REPO, ".github/codegen.yml", config)
        self.made = fake.add_pull(REPO, mergeable_state="blocked")
        self.ci = fake.add_check_run(REPO, self.made.head_sha, "ci/test", status="in_progress")

    async def say(self, text: str) -> str:
        """Comment `text` as the maintainer; the bot's answer to it."""
        before = set(self.fake.world.comments)
        event = issue_comment_event(self.fake, REPO, self.made.number, self.inst_id, text, user="maintainer")
        await self.bot.deliver("issue_comment", event)
        await self.bot.drain()
        new = [c.body for k, c in self.fake.world.comments.items() if k not in before and c.user.endswith("[bot]")]
        return "\n".join(new)

    async def ci_passes(self) -> None:
        self.ci.status, self.ci.conclusion = "completed", "success"
        self.made.mergeable_state = "clean"
        await self.bot.deliver("check_run", check_run_event(self.fake, REPO, self.inst_id, self.ci,
                                                            pull_numbers=[self.made.number]))
        await self.bot.drain()

    async def label(self, name: str, action: str = "labeled", sender: str = "maintainer") -> None:
        issue = self.fake.repo(REPO).issues[self.made.number]
        self.fake.add_label(REPO, name)
        if action == "labeled":
            issue.labels.append(name)
        else:
            issue.labels.remove(name)
        issue.events.append(IssueEvent(self.fake.world.ids.next_id(), action, sender, name, time.time()))
        event = pull_request_event(self.fake, REPO, self.made.number, self.inst_id, action=action, sender=sender)
        event["label"] = {"name": name}
        event["pull_request"]["auto_merge"] = self.auto_merge_body()
        event["pull_request"]["labels"] = [{"name": n} for n in self.labels()]
        await self.bot.deliver("pull_request", event)
        await self.bot.drain()

    def labels(self) -> list[str]:
        return sorted(self.fake.repo(REPO).issues[self.made.number].labels)

    def auto_merge_body(self) -> Any:
        return self.fake.repo(REPO).pulls[self.made.number].auto_merge


async def test_merge_cancel_withdraws_a_standing_request_and_nothing_merges(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    pull = Pull(fake_github, bot, inst.id, "merge: {required_checks: [ci/test]}\n")
    await bot.record_passed_validation(REPO, pull.made, inst.id)
    assert "Ready to merge once these arrive" in await pull.say("/codegen merge")

    answer = await pull.say("/codegen merge cancel")

    assert "withdrew the merge request by @maintainer" in answer
    state = await bot.server.services.merge.prs.get(REPO, pull.made.number)
    assert state.merge_requested_by is None
    await pull.ci_passes()
    assert fake_github.calls("pulls/merge") == []


async def test_merge_cancel_removes_the_automerge_label_and_says_when_there_was_nothing(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    pull = Pull(fake_github, bot, inst.id, "merge: {required_checks: [ci/test]}\n")
    await pull.label("codegen: automerge")
    answer = await pull.say("/codegen unmerge")
    assert "the `codegen: automerge` label" in answer
    assert "codegen: automerge" not in pull.labels()
    assert "there was no merge request to withdraw" in await pull.say("/codegen merge cancel")


async def test_hold_blocks_auto_merge_until_the_label_is_removed(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    pull = Pull(fake_github, bot, inst.id, "merge: {auto_merge: true, required_checks: [ci/test]}\n")
    await bot.record_passed_validation(REPO, pull.made, inst.id)

    answer = await pull.say("/codegen hold")
    assert "`codegen: hold` label is on" in answer
    assert "codegen: hold" in pull.labels()
    await pull.ci_passes()
    assert fake_github.calls("pulls/merge") == []

    await pull.label("codegen: hold", action="unlabeled")
    await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge once the hold is lifted")


async def test_the_hold_label_added_by_hand_turns_githubs_auto_merge_off(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    native = "merge: {auto_merge: true, use_github_auto_merge: true, required_checks: [ci/test]}\n"
    fake_github.protect_branch(REPO, "main", required_contexts=["ci/test"])
    pull = Pull(fake_github, bot, inst.id, native)
    await bot.record_passed_validation(REPO, pull.made, inst.id)
    other = fake_github.add_check_run(REPO, pull.made.head_sha, "ci/lint")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, other, pull_numbers=[pull.made.number]))
    await eventually(lambda: pull.auto_merge_body() is not None, within=15, what="GitHub's auto-merge enabled")
    await bot.drain()

    await pull.label("codegen: hold")

    assert len(fake_github.calls(DISABLE)) == 1 and pull.auto_merge_body() is None
    notices = [c.body for c in fake_github.world.comments.values() if "label is on: withdrew" in c.body]
    assert len(notices) == 1 and "GitHub's auto-merge" in notices[0]
