"""Fixtures of the fakes' own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from tests.fakes.github import FakeGitHub
from tests.unit.fakes.support import REPO, Setup


@pytest_asyncio.fixture
async def gh(fake_github: FakeGitHub) -> AsyncIterator[Setup]:
    """The fake GitHub with an installation on REPO and a client holding one of its tokens."""
    inst = fake_github.add_installation("octo-org", [REPO])
    token = fake_github.issue_token(inst.id)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(base_url=fake_github.url, headers=headers) as client:
        yield Setup(fake_github, client, inst.id, token)
