"""Attack family: reading another tenant's data (issue 12, items 3 and 8).

Before the fix, an inherited config file (`_extends`) was fetched with the *target* repository's
installation: one customer's repository could inherit, and leak through check runs and snapshot env,
another customer's private config. The invariant now: while handling an event of installation N, the bot
never mints or uses another installation's token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import pull_request_event

StartBot = Callable[..., Awaitable[RunningBot]]
VICTIM_CONFIG = "snapshot:\n  env: {API_KEY: victim-secret-value}\n"


async def test_an_inherited_config_is_read_with_the_configured_repositorys_installation_only(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    mallory = fake_github.add_installation("mallory", ["mallory/app"])
    victim = fake_github.add_installation("victim-org", ["victim-org/secret"])
    fake_github.set_file("victim-org/secret", ".github/codegen.yml", VICTIM_CONFIG)
    fake_github.set_file("mallory/app", ".github/codegen.yml", "_extends: victim-org/secret\n")
    pull = fake_github.add_pull("mallory/app", draft=True)
    bot = await start_bot()
    event = pull_request_event(fake_github, "mallory/app", pull.number, mallory.id)
    status, _ = await bot.deliver("pull_request", event)
    assert status == 202
    await bot.drain()

    (config_run,) = [c.json for c in fake_github.calls("checks/create") if c.json["name"] == "codegen/config"]
    assert config_run["conclusion"] == "failure"
    summary = config_run["output"]["summary"]
    assert "victim-org/secret:.github/codegen.yml was not found or not readable by this installation" in summary
    assert "victim-secret-value" not in str(fake_github.requests[-1].body) + summary

    minted = {c.path_params["installation_id"] for c in fake_github.calls("apps/create-installation-access-token")}
    assert minted == {str(mallory.id)}
    used = {r.installation_id for r in fake_github.requests if r.auth == "token"}
    assert used == {mallory.id} and victim.id not in used
