"""Fixtures of the GitHub client's tests.

setup   the App's `GitHubClients` against the fake GitHub on a fake clock: their `sleep` only records the
        wait and moves the clock on, so no test really waits; an installation on REPO (support.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from bot.github.client import GitHubClients
from tests.fakes.github import FakeGitHub
from tests.unit.github.support import REPO, Clock, Setup


@pytest_asyncio.fixture
async def setup(fake_github: FakeGitHub) -> AsyncIterator[Setup]:
    clock = Clock(fake_github.clock())
    fake_github.clock = clock
    inst = fake_github.add_installation("octo-org", [REPO])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    async with aiohttp.ClientSession() as session:
        clients = GitHubClients(
            session, app_id=fake_github.app_id, private_key=fake_github.private_key_pem,
            api_url=fake_github.url, max_rate_limit_wait=120, sleep=sleep, clock=clock,
        )
        yield Setup(fake_github, clients, inst.id, clock, slept)
