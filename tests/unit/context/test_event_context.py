"""EventContext: one delivery's callbacks share one pull-request fetch and one config load."""

from __future__ import annotations

import asyncio
import http
from typing import Any, cast

import pytest
from gidgethub import BadRequest

from config.loader import LoadedConfig
from handlers.context import EventContext, Services


class CountingGitHub:
    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_first = fail_first

    async def getitem(self, url: str, url_vars: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(url)
        await asyncio.sleep(0.01)  # the other callbacks arrive while this fetch is in flight
        if self.fail_first and len(self.calls) == 1:
            raise BadRequest(http.HTTPStatus.BAD_GATEWAY)
        return {"number": url_vars["pull_number"], "base": {"ref": "main"}}


class CountingLoader:
    def __init__(self) -> None:
        self.loads: list[tuple[str, str, str | None]] = []

    async def load(self, owner: str, repo: str, ref: str | None, *, installation_id: int) -> LoadedConfig:
        assert installation_id == 1  # the delivery's installation, and no other
        self.loads.append((owner, repo, ref))
        await asyncio.sleep(0.01)
        return LoadedConfig(None, [])


def context(gh: CountingGitHub, loader: CountingLoader | None = None) -> EventContext:
    services = cast(Services, type("S", (), {"config": loader})())
    return EventContext(services, cast(Any, gh), installation_id=1, delivery_id="d1")


async def test_concurrent_callers_share_one_pull_request_fetch() -> None:
    gh = CountingGitHub()
    ctx = context(gh)
    pulls = await asyncio.gather(*(ctx.pull_request("Octo", "App", 7) for _ in range(3)))
    assert gh.calls == ["/repos/{owner}/{repo}/pulls/{pull_number}"]
    assert all(pr["number"] == 7 for pr in pulls)
    await ctx.pull_request("octo", "app", 8)  # another pull request is another fetch
    assert len(gh.calls) == 2


async def test_config_is_loaded_once_per_ref() -> None:
    loader = CountingLoader()
    ctx = context(CountingGitHub(), loader)
    await asyncio.gather(ctx.repo_config("o", "r", "main"), ctx.repo_config("o", "r", "main"))
    await ctx.repo_config("o", "r", "abc123")
    assert loader.loads == [("o", "r", "main"), ("o", "r", "abc123")]


async def test_a_failed_fetch_is_not_remembered() -> None:
    gh = CountingGitHub(fail_first=True)
    ctx = context(gh)
    with pytest.raises(BadRequest):
        await ctx.pull_request("o", "r", 1)
    assert (await ctx.pull_request("o", "r", 1))["number"] == 1
    assert len(gh.calls) == 2


async def test_each_delivery_has_its_own_memo() -> None:
    gh = CountingGitHub()
    await context(gh).pull_request("o", "r", 1)
    await context(gh).pull_request("o", "r", 1)
    assert len(gh.calls) == 2
