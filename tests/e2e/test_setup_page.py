"""The manifest flow: the setup page carries app.yml's manifest; the callback writes .env and goes live."""

from __future__ import annotations

import json
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import yaml

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.setup_form import form_of
from tests.support.webhooks import headers_for, payload

StartBot = Callable[..., Awaitable[RunningBot]]
APP_YML = Path(__file__).resolve().parents[2] / "app.yml"


async def unconfigured(start_bot: StartBot) -> RunningBot:
    return await start_bot(github_app_id=None, github_private_key=None, github_webhook_secret=None)


async def test_setup_page_posts_app_yml_as_the_manifest(start_bot: StartBot) -> None:
    bot = await unconfigured(start_bot)
    async with bot.session.get(bot.setup_link()) as resp:
        assert resp.status == 200
        page = await resp.text()
    action, manifest = form_of(page)
    assert action.startswith("https://github.example/settings/apps/new?state=")
    expected = yaml.safe_load(APP_YML.read_text())
    assert manifest["name"] == expected["name"]
    assert manifest["default_events"] == expected["default_events"]
    assert manifest["default_permissions"] == expected["default_permissions"]
    assert manifest["hook_attributes"] == {"url": f"{bot.url}/webhook"}
    assert manifest["redirect_url"] == f"{bot.url}/setup/callback"

    async with bot.session.get(bot.setup_link() + "&org=acme") as resp:
        action, _ = form_of(await resp.text())
    assert action.startswith("https://github.example/organizations/acme/settings/apps/new?state=")


async def test_callback_exchanges_the_code_writes_env_and_starts_accepting_webhooks(
    fake_github: FakeGitHub, start_bot: StartBot, tmp_path: Path
) -> None:
    bot = await unconfigured(start_bot)
    status, _ = await bot.deliver("issues", payload("issues/opened"))
    assert status == 503
    new_app = fake_github.register_manifest_code("one-time-code", slug="my-codegen-bot")
    async with bot.session.get(bot.setup_link()) as resp:
        action, _ = form_of(await resp.text())
    state = action.split("state=", 1)[1]

    async with bot.session.get(
        f"{bot.url}/setup/callback", params={"code": "one-time-code", "state": "forged"}
    ) as resp:
        assert resp.status == 400
    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "one-time-code", "state": state}) as resp:
        assert resp.status == 200, await resp.text()
        assert "installations/new" in await resp.text()
    assert len(fake_github.calls("apps/create-from-manifest")) == 1

    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line)
    assert values["GITHUB_APP_ID"] == f'"{new_app.id}"'
    assert "BEGIN" in values["GITHUB_PRIVATE_KEY"] and "\\n" in values["GITHUB_PRIVATE_KEY"]
    secret = json.loads(values["GITHUB_WEBHOOK_SECRET"])
    assert secret

    # the server reloaded: webhooks signed with the new secret are accepted now
    body = json.dumps(payload("issues/opened")).encode()
    async with bot.session.post(f"{bot.url}/webhook", data=body, headers=headers_for("issues", body, secret)) as resp:
        assert resp.status == 202
    assert bot.server.settings.github_app_id == new_app.id
    # the App is configured now: no callback is accepted any more (tests/security/test_setup.py)
    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "one-time-code", "state": state}) as resp:
        assert resp.status == 409


async def test_app_manifest_path_chooses_the_manifest_and_a_missing_one_is_named(
    start_bot: StartBot, tmp_path: Path
) -> None:
    """The image installs the package without app.yml beside it and sets APP_MANIFEST_PATH (issue 16)."""
    own = tmp_path / "manifest.yml"
    own.write_text(APP_YML.read_text().replace("\nname: codegen-bot", "\nname: acme-codegen", 1))
    bot = await start_bot(github_app_id=None, github_private_key=None, github_webhook_secret=None,
                          app_manifest_path=own)
    async with bot.session.get(bot.setup_link()) as resp:
        assert resp.status == 200
        _, manifest = form_of(await resp.text())
    assert manifest["name"] == yaml.safe_load(own.read_text())["name"] != yaml.safe_load(APP_YML.read_text())["name"]

    missing = tmp_path / "nowhere.yml"
    bot = await start_bot(github_app_id=None, github_private_key=None, github_webhook_secret=None,
                          app_manifest_path=missing)
    async with bot.session.get(bot.setup_link()) as resp:
        assert resp.status == 503
        assert str(missing) in await resp.text() and "APP_MANIFEST_PATH" in await resp.text()
