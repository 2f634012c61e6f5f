"""pytest fixtures: the real bot (BotServer) on a loopback port, wired to the fake GitHub (and Codegen).

    bot            a started RunningBot with default settings
    start_bot      an async factory: `await start_bot(**setting_overrides)`; every bot it started is stopped
                   at teardown (tests that restart the bot call `await bot.stop()` themselves first)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp import web

from bot.intake.limits import runner_options
from bot.runtime.server import BotServer
from config.settings import Settings, load_settings
from entrypoints.app import make_server
from tests.fakes.github import FakeGitHub
from tests.support.webhooks import headers_for

WEBHOOK_SECRET = "test-webhook-secret-0123456789"


@dataclass
class RunningBot:
    server: BotServer
    runner: web.AppRunner
    url: str
    settings: Settings
    #: a browser-like session: it keeps cookies, also for 127.0.0.1 (the setup flow binds its state to one)
    session: aiohttp.ClientSession = field(
        default_factory=lambda: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    )
    stopped: bool = False

    async def deliver(
        self, event: str, payload: dict[str, Any] | bytes, *, delivery_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        all_headers = {**headers_for(event, body, WEBHOOK_SECRET, delivery_id), **(headers or {})}
        async with self.session.post(f"{self.url}/webhook", data=body, headers=all_headers) as resp:
            return resp.status, await resp.json(content_type=None)

    async def record_passed_validation(self, repo: str, pull: Any, installation_id: int) -> None:
        """The store says the PR's current head passed a validation (the snapshot itself is tested elsewhere)."""
        store = self.server.services.validation.store
        record = await store.create(repo=repo, pr_number=pull.number, head_sha=pull.head_sha, head_ref=pull.head_ref,
                                    clone_url=None, installation_id=installation_id, state="done", trigger="test")
        await store.update(record.id, passed=True)

    def setup_link(self) -> str:
        """The one-time setup link the bot printed on its console (only while the App is not configured)."""
        link = self.server.setup.setup_link(self.url)
        assert link is not None, "the setup token is spent"
        return link

    async def drain(self, within: float = 30.0) -> None:
        """Wait until every stored delivery and every due job has been handled."""
        for _ in range(3):  # deliveries can queue jobs, and jobs can lead to more work
            if self.server.worker is not None:
                await self.server.worker.wait_idle(within)
            if self.server.jobs is not None:
                await self.server.jobs.wait_idle(within)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.session.close()
        await self.runner.cleanup()


def bot_settings(fake: FakeGitHub, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "github_app_id": fake.app_id,
        "github_private_key": fake.private_key_pem,
        "github_webhook_secret": WEBHOOK_SECRET,
        "github_api_url": fake.url,
        "github_url": "https://github.example",
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "git_cache_dir": tmp_path / "git-cache",
        "log_level": "DEBUG",
    }
    values.update(overrides)
    return load_settings(**values)


async def launch(settings: Settings, env_path: Path) -> RunningBot:
    server = make_server(settings, env_path=env_path)
    runner = web.AppRunner(server.make_app(), **runner_options())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return RunningBot(server, runner, f"http://127.0.0.1:{port}", settings)


@pytest_asyncio.fixture
async def start_bot(
    fake_github: FakeGitHub, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[RunningBot]]]:
    started: list[RunningBot] = []

    async def factory(**overrides: Any) -> RunningBot:
        running = await launch(bot_settings(fake_github, tmp_path, **overrides), tmp_path / ".env")
        started.append(running)
        return running

    yield factory
    for running in started:
        await running.stop()


@pytest_asyncio.fixture
async def bot(start_bot: Callable[..., Awaitable[RunningBot]]) -> RunningBot:
    return await start_bot()
