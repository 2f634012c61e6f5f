"""The Codegen client against the fake Codegen API (real HTTP on loopback, contract-checked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.codegen.client import (
    AgentRun,
    CodegenClient,
    CodegenForbidden,
    CodegenNotFound,
    CodegenQuotaReached,
    SlidingWindow,
)
from bot.codegen.orgs import CodegenOrgMap, OrgMapError
from tests.fakes.codegen import FakeCodegen


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest_asyncio.fixture
async def client(fake_codegen: FakeCodegen) -> AsyncIterator[tuple[CodegenClient, Clock]]:
    clock = Clock()
    c = CodegenClient(fake_codegen.url, fake_codegen.token, sleep=clock.sleep, clock=clock)
    yield c, clock
    await c.aclose()


async def test_create_get_resume_list(fake_codegen: FakeCodegen, client: tuple[CodegenClient, Clock]) -> None:
    c, _ = client
    fake_codegen.script("add tests", [{"status": "ACTIVE"}, {"status": "COMPLETE", "result": "All done",
                                       "github_pull_requests": [{"id": 5, "title": "Add tests", "created_at": "x",
                                                                 "url": "https://github.com/o/r/pull/9",
                                                                 "head_branch_name": "codegen/tests"}]}])
    run = await c.create_run(77, "please add tests", metadata={"codegen_bot": {"run_id": 1}})
    assert isinstance(run, AgentRun) and run.status == "PENDING" and not run.terminal
    assert fake_codegen.runs[run.id].metadata == {"codegen_bot": {"run_id": 1}}
    seen = [await c.get_run(77, run.id) for _ in range(3)]
    assert [r.status for r in seen] == ["PENDING", "ACTIVE", "COMPLETE"]
    done = seen[-1]
    assert done.terminal and done.succeeded and done.result == "All done"
    assert done.github_pull_requests[0].url == "https://github.com/o/r/pull/9"
    assert done.github_pull_requests[0].head_branch_name == "codegen/tests"
    resumed = await c.resume_run(77, run.id, "Proceed")
    assert resumed.status == "ACTIVE" and fake_codegen.runs[run.id].prompts[-1] == "Proceed"
    listed = await c.list_runs(77, limit=10)
    assert [r.id for r in listed] == [run.id]


def test_statuses() -> None:
    def status(s: str | None) -> AgentRun:
        return AgentRun(id=1, organization_id=1, status=s)

    assert [status(s).terminal for s in ("COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED")] == [True] * 5
    assert not status("RUNNING").terminal and not status("SOMETHING_NEW").terminal and not status(None).terminal
    assert status("COMPLETE").succeeded and not status("FAILED").succeeded


async def test_429_waits_retry_after(fake_codegen: FakeCodegen, client: tuple[CodegenClient, Clock]) -> None:
    c, _clock = client
    run = await c.create_run(77, "x")
    fake_codegen.fail_next("GET", f"/v1/organizations/77/agent/run/{run.id}", 429, times=2, retry_after=7)
    again = await c.get_run(77, run.id)
    assert again.id == run.id
    assert c.waits == [7.0, 7.0]


async def test_5xx_is_retried_with_backoff(fake_codegen: FakeCodegen, client: tuple[CodegenClient, Clock]) -> None:
    c, _ = client
    fake_codegen.fail_next("POST", "/v1/organizations/77/agent/run", 503, times=2)
    run = await c.create_run(77, "x")
    assert run.id in fake_codegen.runs and c.waits == [1, 2]


async def test_quota_and_access_errors_are_not_retried(
    fake_codegen: FakeCodegen, client: tuple[CodegenClient, Clock]
) -> None:
    c, _ = client
    fake_codegen.quota_left = 0
    with pytest.raises(CodegenQuotaReached) as quota:
        await c.create_run(77, "x")
    assert quota.value.status == 402 and "limit" in quota.value.message
    with pytest.raises(CodegenForbidden):
        await c.get_run(78, 1)
    with pytest.raises(CodegenNotFound):
        await c.get_run(77, 424242)
    assert c.waits == []
    assert len(fake_codegen.requests) == 3  # one request each: nothing retried


async def test_token_never_in_errors_or_repr(fake_codegen: FakeCodegen) -> None:
    c = CodegenClient(fake_codegen.url, "cg-wrong-secret-token")
    with pytest.raises(CodegenForbidden) as caught:
        await c.get_run(77, 1)
    await c.aclose()
    assert "cg-wrong-secret-token" not in str(caught.value) + repr(caught.value) + repr(c)


async def test_creation_throttle_waits_instead_of_429() -> None:
    clock = Clock()
    window = SlidingWindow(10, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        assert await window.acquire() == 0
    waited = await window.acquire()
    assert waited == pytest.approx(60.0) and clock.slept == [pytest.approx(60.0)]


async def test_fake_rejects_requests_outside_the_contract(fake_codegen: FakeCodegen) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=fake_codegen.url,
                                 headers={"Authorization": f"Bearer {fake_codegen.token}"}) as http:
        invented = await http.post("/v1/organizations/77/agent/run", json={"prompt": "x", "priority": "high"})
        unknown = await http.get("/v1/organizations/77/agent/cancel")
    assert invented.status_code == 422 and unknown.status_code == 404
    kinds = sorted(v.kind for v in fake_codegen.violations)
    assert kinds == ["body", "operation"]
    fake_codegen.violations.clear()  # expected here; the fixture fails on any other


def test_org_map(tmp_path: Path) -> None:
    path = tmp_path / "orgs.yml"
    path.write_text("Octo-Org/Widgets: 42\nocto-org: 7\n")
    orgs = CodegenOrgMap.load(path)
    assert orgs.org_for("octo-org", "widgets", 1) == 42
    assert orgs.org_for("octo-org", "other", 1) == 7
    assert orgs.org_for("someone", "else", 1) == 1
    assert CodegenOrgMap.load(None).org_for("a", "b", None) is None
    path.write_text("octo-org: seven\n")
    with pytest.raises(OrgMapError):
        CodegenOrgMap.load(path)
