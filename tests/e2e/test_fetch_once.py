"""Handlers get what they need once: one pull request fetch and one config load per handled event.

The callbacks of one delivery run side by side and share a per-event memo (handlers/context.py), and the
worker resolves the installation once per delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import issue_comment_event, pull_request_event

REPO = "octo-org/app"
CONFIG_PATH = ".github/codegen.yml"
StartBot = Callable[..., Awaitable[RunningBot]]


def config_reads(fake: FakeGitHub, ref: str) -> list[Any]:
    return [c for c in fake.calls("repos/get-content")
            if c.path_params.get("path") == CONFIG_PATH and c.query.get("ref") == ref]


async def test_a_merge_command_fetches_the_pull_request_and_its_config_once(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_file(REPO, CONFIG_PATH, "merge:\n  required_checks: [codegen/test]\n")
    pull = fake_github.add_pull(REPO, head_ref="feature/x")
    bot = await start_bot()
    event = issue_comment_event(fake_github, REPO, pull.number, inst.id, "/codegen merge", user="maintainer")
    status, _ = await bot.deliver("issue_comment", event)
    assert status == 202
    await bot.drain()
    replies = [c.body for c in fake_github.world.comments.values() if c.user == f"{fake_github.app_slug}[bot]"]
    assert any("Ready to merge once these arrive" in body for body in replies), replies
    assert len(fake_github.calls("pulls/get")) == 1
    assert len(config_reads(fake_github, pull.base_ref)) == 1


async def test_the_callbacks_of_one_pull_request_event_share_one_config_load(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_file(REPO, CONFIG_PATH, "merge:\n  auto_merge: false\n")
    pull = fake_github.add_pull(REPO, draft=True)  # a draft is not validated: no job reads the config later
    bot = await start_bot()
    status, _ = await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id))
    assert status == 202
    await bot.drain()
    # three callbacks handled it: the config check, the validation trigger and the merge trigger
    assert [c.json["name"] for c in fake_github.calls("checks/create")] == ["codegen/config"]
    assert len(config_reads(fake_github, pull.base_ref)) == 1
    assert len(fake_github.calls("pulls/get")) == 1  # the head is read fresh once (a delivery is not the present)
