"""Branch protection without `administration: read` (issue 13, item 10): said, never taken as "none"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import issue_comment_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def test_a_merge_notice_says_that_protection_could_not_be_read(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    permissions = {k: v for k, v in fake_github.app.permissions.items() if k != "administration"}
    inst = fake_github.add_installation("octo-org", [REPO], permissions=permissions)
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.protect_branch(REPO, "main", required_contexts=["ci/secret-check"])
    pull = fake_github.add_pull(REPO)
    bot = await start_bot()
    await bot.deliver("issue_comment", issue_comment_event(fake_github, REPO, pull.number, inst.id,
                                                           "/codegen merge", user="maintainer"))
    await bot.drain()
    (protection_read,) = fake_github.calls("repos/get-status-checks-protection")
    assert protection_read.status == 403
    said = [c.body for c in fake_github.world.comments.values() if c.issue_number == pull.number]
    assert any("branch protection could not be read" in body for body in said), said
