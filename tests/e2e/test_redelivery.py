"""Missed webhooks are fetched back (issue 14, point 4): the real bot, the fake GitHub's delivery log.

While the bot was down, GitHub's deliveries to it failed, and GitHub does not redeliver them by itself. When
the bot starts, its reconciler lists the App webhook's deliveries with the App's JWT and asks GitHub to
redeliver the failed ones it never stored; the fake really POSTs them to the bot (signed, same guid), so
their effects (here: the `/codegen help` reply and the 👀 reaction) must happen exactly once.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from bot.intake.limits import runner_options
from entrypoints.app import make_server
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET, RunningBot, bot_settings
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event

REPO = "octo-org/app"
DAY = 24 * 3600.0
HELP_ROW = "What you can ask me here"
LIST, REDELIVER = "apps/list-webhook-deliveries", "apps/redeliver-webhook-delivery"
StartBot = Callable[..., Awaitable[RunningBot]]


@pytest_asyncio.fixture
async def start_listening_bot(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[StartBot]:
    """Like `start_bot`, but the bot's address is known, and accepting connections, before it starts:
    GitHub's webhook URL is configured long before the bot's start-up pass asks for redeliveries, so the
    fake's deliveries must find the bot (they wait in the socket's backlog until it serves)."""
    started: list[RunningBot] = []

    async def factory(**overrides: Any) -> RunningBot:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        fake_github.webhook_target(f"{url}/webhook", WEBHOOK_SECRET)
        settings = bot_settings(fake_github, tmp_path, **overrides)
        server = make_server(settings, env_path=tmp_path / ".env")
        runner = web.AppRunner(server.make_app(), **runner_options())
        await runner.setup()
        await web.SockSite(runner, sock).start()
        running = RunningBot(server, runner, url, settings)
        started.append(running)
        return running

    yield factory
    for running in started:
        await running.stop()


class World:
    """Six issues, each with a `/codegen help` comment whose delivery GitHub logged."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.installation_id = fake.add_installation("octo-org", [REPO]).id
        fake.set_permission(REPO, "maintainer", "write")
        self.comment_ids: dict[int, int] = {}

    def comment(self, title: str) -> tuple[int, dict[str, Any]]:
        number = self.fake.add_issue(REPO, title=title).number
        event = issue_comment_event(self.fake, REPO, number, self.installation_id, "/codegen help", user="maintainer")
        self.comment_ids[number] = int(event["comment"]["id"])
        return number, event

    def log(self, event: dict[str, Any], status_code: int, guid: str | None = None, **kw: Any) -> tuple[str, int]:
        guid = guid or str(uuid.uuid4())
        return guid, self.fake.log_delivery(guid, "issue_comment", "created", event, status_code, **kw)

    def help_replies(self, number: int) -> int:
        bot = f"{self.fake.app_slug}[bot]"
        return sum(1 for c in self.fake.world.comments.values()
                   if c.repo == REPO and c.issue_number == number and c.user == bot and HELP_ROW in c.body)

    def eyes(self, number: int) -> int:
        return [r.content for r in self.fake.world.comments[self.comment_ids[number]].reactions].count("eyes")


async def passes(fake: FakeGitHub, more: int, within: float = 20.0) -> None:
    """Wait until the bot listed its deliveries `more` more times (each pass lists once, passes never overlap)."""
    target = len(fake.calls(LIST)) + more
    await eventually(lambda: len(fake.calls(LIST)) >= target and fake.calls(LIST)[-1].status is not None,
                     within=within, what=f"{more} more reconcile passes")


async def test_missed_deliveries_are_redelivered_once_and_handled_once(
    fake_github: FakeGitHub, start_listening_bot: StartBot
) -> None:
    world = World(fake_github)
    now = time.time()
    too_old, old_event = world.comment("missed four days ago")
    world.log(old_event, 503, delivered_at=now - 4 * DAY)  # past GitHub's 3-day window: not asked for
    for i in range(150):  # a busy App: the first pass reads two pages of 100
        fake_github.log_delivery(f"ping-{i}", "ping", None, {"zen": "Keep it logically awesome.", "hook_id": 1}, 200,
                                 delivered_at=now - 2 * DAY)
    missed = {}
    for title, code, failure in (("bot answered 503", 503, None), ("bot was down", 0, "failed to connect"),
                                 ("bot was too slow", 0, "timed out")):
        number, event = world.comment(title)
        missed[number] = world.log(event, code, failure=failure)
    received, ok_event = world.comment("delivered fine")  # OK: the bot got it (whatever its store says now)
    world.log(ok_event, 202)
    retried, retried_event = world.comment("failed, then redelivered by hand")
    guid, _ = world.log(retried_event, 503, delivered_at=now - 60)
    world.log(retried_event, 202, guid=guid, redelivery=True)

    bot = await start_listening_bot()
    await eventually(lambda: len(fake_github.calls(REDELIVER)) >= len(missed), within=15,
                     what="the start-up pass (a moment after start-up) to ask")
    await bot.drain()
    await fake_github.settle_deliveries()  # GitHub made the redeliveries
    await bot.drain()  # and the bot handled them

    asked = fake_github.calls(REDELIVER)
    assert sorted(int(r.path_params["delivery_id"]) for r in asked) == sorted(i for _, i in missed.values())
    assert all(r.status == 202 for r in asked)
    assert {r.auth for r in fake_github.calls(LIST) + asked} == {"jwt"}  # the App's JWT, never a token
    assert [r.query.get("per_page") for r in fake_github.calls(LIST)] == ["100", "100"]
    assert "cursor" in fake_github.calls(LIST)[1].query  # the second page, by the Link header's cursor
    redelivered = [d for d in fake_github.hook_deliveries() if d.redelivery and d.guid != guid]
    assert sorted(d.guid for d in redelivered) == sorted(g for g, _ in missed.values())
    assert all(d.status == "OK" and d.request_headers["X-GitHub-Delivery"] == d.guid for d in redelivered)
    for number in missed:
        assert (world.help_replies(number), world.eyes(number)) == (1, 1), number
    for number in (too_old, received, retried):
        assert (world.help_replies(number), world.eyes(number)) == (0, 0), number

    # one the bot stored and handled, but answered too late for GitHub: failed there, held here
    slow, slow_event = world.comment("the bot was slow to answer")
    slow_guid = str(uuid.uuid4())
    assert (await bot.deliver("issue_comment", slow_event, delivery_id=slow_guid))[0] == 202
    await bot.drain()
    world.log(slow_event, 0, guid=slow_guid, failure="timed out")

    # later passes (the start-up pass of a restart on the same store, then periodic ones) ask nothing more
    await bot.stop()
    listed = len(fake_github.calls(LIST))
    bot = await start_listening_bot(reconcile_minutes=0.01)
    await passes(fake_github, 3)
    await bot.drain()
    assert len(fake_github.calls(REDELIVER)) == len(missed)
    later = fake_github.calls(LIST)[listed:]
    assert not any("cursor" in r.query for r in later)  # each stopped at the cursor on the first page
    for number in [*missed, slow]:
        assert (world.help_replies(number), world.eyes(number)) == (1, 1), number


async def test_a_redelivery_that_fails_again_is_asked_for_at_most_three_times(
    fake_github: FakeGitHub, start_listening_bot: StartBot
) -> None:
    world = World(fake_github)
    number, event = world.comment("the bot never answers")
    guid, _ = world.log(event, 503)
    bot = await start_listening_bot(reconcile_minutes=0.01)
    fake_github.webhook_target("http://127.0.0.1:9/webhook", WEBHOOK_SECRET)  # GitHub reaches nothing now

    async def asked_three_times() -> bool:
        await fake_github.settle_deliveries()
        return len(fake_github.calls(REDELIVER)) >= 3

    await eventually(asked_three_times, within=20.0, what="three asks")
    await passes(fake_github, 3)
    await fake_github.settle_deliveries()
    assert len(fake_github.calls(REDELIVER)) == 3
    attempts = [d for d in fake_github.hook_deliveries() if d.guid == guid]
    assert [d.status for d in attempts] == ["Invalid HTTP Response: 503"] + ["failed to connect"] * 3
    assert world.help_replies(number) == 0
    await bot.drain()


async def test_the_delivery_log_is_the_apps_own_and_pages_like_githubs(fake_github: FakeGitHub) -> None:
    world = World(fake_github)
    _, event = world.comment("listed")
    ids = [world.log(event, 503 if i % 2 else 200)[1] for i in range(5)]
    old_id = world.log(event, 503, delivered_at=time.time() - 4 * DAY)[1]
    jwt = {"Authorization": f"Bearer {fake_github.app_jwt()}", "Accept": "application/vnd.github+json"}
    token = fake_github.issue_token(world.installation_id)
    async with aiohttp.ClientSession() as session:
        seen: list[int] = []
        url: str | None = f"{fake_github.url}/app/hook/deliveries?per_page=2"
        while url is not None:
            async with session.get(url, headers=jwt) as resp:
                assert resp.status == 200
                seen.extend(d["id"] for d in await resp.json())
                url = str(resp.links["next"]["url"]) if "next" in resp.links else None
                assert url is None or "cursor=" in url
        assert seen == sorted([*ids, old_id], reverse=True)  # newest first, every attempt once
        for path in ("/app/hook/deliveries", f"/app/hook/deliveries/{ids[0]}"):
            async with session.get(f"{fake_github.url}{path}", headers={"Authorization": f"token {token}"}) as resp:
                assert resp.status == 401  # an installation token may not read the App's webhook
        async with session.post(f"{fake_github.url}/app/hook/deliveries/{old_id}/attempts", headers=jwt) as resp:
            assert resp.status == 422  # past the 3-day window
        async with session.post(f"{fake_github.url}/app/hook/deliveries/{ids[1]}/attempts", headers=jwt) as resp:
            assert resp.status == 202
    await fake_github.settle_deliveries()  # no target: the attempt could not connect, and says so
    assert fake_github.hook_deliveries()[-1].status == "failed to connect"
