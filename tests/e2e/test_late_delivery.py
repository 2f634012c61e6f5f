"""A delivery is not the present (issue 13, item 8): a late `synchronize` never cancels a newer head."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import pull_request_event

REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def test_a_late_synchronize_for_an_older_head_changes_nothing(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    pull = fake_github.add_pull(REPO, user="stranger", head_repo="stranger/shop")  # held: no snapshot runs
    old_head = pull.head_sha
    late = pull_request_event(fake_github, REPO, pull.number, inst.id, "synchronize")  # written for the old head
    pull.head_sha = "e" * 40
    bot = await start_bot()
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id, "synchronize"))
    await bot.drain()
    store = bot.server.services.validation.store
    newer = await store.latest_for_sha(REPO, pull.head_sha)
    assert newer is not None and newer.state == "held"

    await bot.deliver("pull_request", late)  # GitHub delivers the older push's event late
    await bot.drain()
    assert await store.latest_for_sha(REPO, old_head) is None
    assert (await store.latest_for_sha(REPO, pull.head_sha)).state == "held"  # type: ignore[union-attr]
