"""Smaller promises of issue 12, item 12: replays, private files, tokens in the redactor, the admin address."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.runtime.logs import JsonFormatter
from bot.runtime.redaction import is_registered, redact
from bot.runtime.setup_page import write_env
from bot.store.db import Database
from bot.store.migrations import MIGRATIONS
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import issue_comment_event
from tests.support.serve_process import free_port, serve, wait_healthy

StartBot = Callable[..., Awaitable[RunningBot]]
REPO = "octo-org/app"


async def test_a_signed_body_replayed_under_a_new_delivery_id_is_handled_once(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    issue = fake_github.add_issue(REPO)
    bot = await start_bot()
    body = json.dumps(issue_comment_event(fake_github, REPO, issue.number, inst.id, "/codegen help",
                                          user="maintainer")).encode()
    assert (await bot.deliver("issue_comment", body, delivery_id="original"))[0] == 202
    status, answer = await bot.deliver("issue_comment", body, delivery_id="replayed-with-a-new-id")
    assert (status, answer["status"]) == (202, "duplicate")
    await bot.drain()
    helps = [c for c in fake_github.world.comments.values() if "What you can ask me here" in c.body]
    assert len(helps) == 1


async def test_the_env_file_and_the_store_are_private_from_their_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.umask", lambda mask: 0)  # nothing in the code may rely on a strict umask
    write_env(tmp_path / ".env", {"GITHUB_APP_ID": "1"})
    db = await Database.open(str(tmp_path / "bot.db"), MIGRATIONS)
    await db.close()
    for name in (".env", "bot.db"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    wal = tmp_path / "bot.db-wal"
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


async def test_an_installation_token_is_masked_as_soon_as_it_is_issued(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    token = await bot.server.services.validation.github.token_for(inst.id)
    assert is_registered(token)  # masked by value, not only because it looks like a GitHub token
    assert redact(f"clone with {token}") == "clone with [redacted]"
    record = logging.LogRecord("test", logging.WARNING, __file__, 1, "leaked %s", (token,), None)
    assert token not in JsonFormatter().format(record)  # the bot's own log format


async def test_metrics_live_on_the_admin_address_only(fake_github: FakeGitHub, tmp_path: Path) -> None:
    port, admin_port = free_port(), free_port()
    proc = serve(tmp_path, fake_github, port, intake_processes=2,
                 extra_env={"ADMIN_HOST": "127.0.0.1", "ADMIN_PORT": str(admin_port)})
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, f"http://127.0.0.1:{port}")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 404
            async with session.get(f"http://127.0.0.1:{admin_port}/metrics") as resp:
                assert resp.status == 200
                assert "codegen_bot_deliveries_received" in await resp.text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
