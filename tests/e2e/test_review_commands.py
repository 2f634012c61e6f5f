"""Commands where people write them (issue 13, item 9): review comments and review bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import review_comment_event, review_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def test_a_review_comment_command_is_answered_in_its_thread(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    pull = fake_github.add_pull(REPO)
    bot = await start_bot()
    text = "Looks odd.\n/codegen help"
    event = review_comment_event(fake_github, REPO, pull.number, inst.id, text, user="maintainer")
    status, _ = await bot.deliver("pull_request_review_comment", event)
    assert status == 202
    await bot.drain()
    thread = event["comment"]["id"]
    (reaction,) = fake_github.calls("reactions/create-for-pull-request-review-comment")
    assert reaction.path_params["comment_id"] == str(thread) and reaction.json == {"content": "eyes"}
    (reply,) = fake_github.calls("pulls/create-reply-for-review-comment")
    assert reply.path_params["comment_id"] == str(thread) and "What you can ask me here" in reply.json["body"]
    assert fake_github.calls("issues/create-comment") == []  # not in the conversation: in the thread


async def test_a_review_body_command_is_answered_on_the_pull_request(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_permission(REPO, "visitor", "read")
    pull = fake_github.add_pull(REPO)
    bot = await start_bot()
    await bot.deliver("pull_request_review", review_event(fake_github, REPO, pull.number, inst.id,
                                                          "Nearly there.\n/codegen status", user="maintainer"))
    await bot.deliver("pull_request_review", review_event(fake_github, REPO, pull.number, inst.id,
                                                          "/codegen merge", user="visitor"))
    await bot.drain()
    said = [c.body for c in fake_github.world.comments.values() if c.issue_number == pull.number]
    assert any("No agent runs in this thread yet" in body for body in said), said
    assert any("Sorry @visitor" in body for body in said), said
