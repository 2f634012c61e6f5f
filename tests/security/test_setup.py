"""Attack family: taking over the setup flow (issue 12, item 1).

Before the fix, `/setup/callback` stayed live after registration and accepted any `state` handed out by
`GET /` in the last hour: anyone who loaded the page could later replace `.env` with their own App and
webhook secret. Now a state is issued only with the console's one-time setup token, is bound to the
browser that asked for it, and nothing is accepted once the App is configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.setup_form import form_of

StartBot = Callable[..., Awaitable[RunningBot]]


async def unconfigured(start_bot: StartBot) -> RunningBot:
    return await start_bot(github_app_id=None, github_private_key=None, github_webhook_secret=None)


async def state_from(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        assert resp.status == 200
        action, _ = form_of(await resp.text())
    return action.split("state=", 1)[1]


async def test_a_stranger_without_the_setup_token_gets_no_state(start_bot: StartBot) -> None:
    bot = await unconfigured(start_bot)
    for url in (f"{bot.url}/", f"{bot.url}/?setup_token=guess", f"{bot.url}/?org=acme"):
        async with bot.session.get(url) as resp:
            assert resp.status == 403
            page = await resp.text()
        assert "state=" not in page and "setup link" in page


async def test_a_state_only_works_in_the_browser_it_was_issued_to(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    bot = await unconfigured(start_bot)
    fake_github.register_manifest_code("code-1", slug="my-bot")
    state = await state_from(bot.session, bot.setup_link())
    async with aiohttp.ClientSession() as other_browser:  # same state, no cookie
        async with other_browser.get(f"{bot.url}/setup/callback", params={"code": "code-1", "state": state}) as resp:
            assert resp.status == 400
    # the refused attempt used the state up: the owner starts again from the link
    state = await state_from(bot.session, bot.setup_link())
    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "code-1", "state": state}) as resp:
        assert resp.status == 200, await resp.text()
    assert bot.server.settings.app_configured


async def test_once_configured_no_callback_replaces_the_app(
    fake_github: FakeGitHub, start_bot: StartBot, tmp_path: Path
) -> None:
    bot = await unconfigured(start_bot)
    owners = fake_github.register_manifest_code("owner-code", slug="owners-bot")
    fake_github.register_manifest_code("attacker-code", slug="attackers-bot")
    link = bot.setup_link()
    leaked = await state_from(bot.session, link)  # a second state, issued before registration
    state = await state_from(bot.session, link)
    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "owner-code", "state": state}) as resp:
        assert resp.status == 200
    env = (tmp_path / ".env").read_text()
    assert f'GITHUB_APP_ID="{owners.id}"' in env

    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "attacker-code", "state": leaked}) as resp:
        assert resp.status == 409
    assert (tmp_path / ".env").read_text() == env
    assert bot.server.settings.github_app_id == owners.id
    async with bot.session.get(link) as resp:  # the spent link hands out nothing any more
        assert "state=" not in await resp.text()
    assert bot.server.setup.setup_link(bot.url) is None
