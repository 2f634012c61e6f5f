"""A stage's check run shows `in_progress` only when the stage runs for a while (GitHub's rate budget)."""

from __future__ import annotations

import asyncio

import aiohttp

from bot.github import check_runs
from bot.github.check_run_reporter import CheckRunReporter
from bot.github.client import GitHubClients
from tests.fakes.github import FakeGitHub
from validators.annotations import Annotation
from validators.outcome import StageOutcome

REPO = "octo-org/app"


async def reporter_on(fake: FakeGitHub, session: aiohttp.ClientSession, after: float) -> CheckRunReporter:
    inst = fake.add_installation("octo-org", [REPO])
    pull = fake.add_pull(REPO)
    gh = GitHubClients(session, app_id=fake.app_id, private_key=fake.private_key_pem,
                       api_url=fake.url).installation(inst.id)
    ids = {}
    for stage in ("build", "test"):
        created = await check_runs.create(gh, "octo-org", "app", {
            "name": f"codegen/{stage}", "head_sha": pull.head_sha, "status": "queued"})
        ids[stage] = int(created["id"])
    return CheckRunReporter(gh, "octo-org", "app", ids, offer_fix=False, in_progress_after=after)


def updates(fake: FakeGitHub) -> list[dict[str, object]]:
    return [c.json for c in fake.calls("checks/update")]


async def test_a_fast_stage_goes_from_queued_to_completed_with_its_start_time(fake_github: FakeGitHub) -> None:
    async with aiohttp.ClientSession() as session:
        reporter = await reporter_on(fake_github, session, after=5.0)
        await reporter.stage_started("build")
        await reporter.stage_finished(StageOutcome("build", "success", "build: passed", "ok"))
        await reporter.close()
    (only,) = updates(fake_github)
    assert only["status"] == "completed" and only["started_at"]


async def test_a_slow_stage_is_marked_in_progress_before_it_completes(fake_github: FakeGitHub) -> None:
    async with aiohttp.ClientSession() as session:
        reporter = await reporter_on(fake_github, session, after=0.05)
        await reporter.stage_started("test")
        await asyncio.sleep(0.5)
        await reporter.stage_finished(StageOutcome("test", "failure", "test: failed", "boom"))
        await reporter.close()
    assert [u["status"] for u in updates(fake_github)] == ["in_progress", "completed"]


async def test_no_in_progress_after_the_validation_ended(fake_github: FakeGitHub) -> None:
    async with aiohttp.ClientSession() as session:
        reporter = await reporter_on(fake_github, session, after=0.1)
        await reporter.stage_started("test")  # cancelled before the stage reports (e.g. a newer push)
        await reporter.close()
        await asyncio.sleep(0.3)
    assert updates(fake_github) == []


async def test_a_stage_with_many_annotations_is_concluded_in_one_request_most_severe_first(
    fake_github: FakeGitHub,
) -> None:
    notes = [Annotation("a.py", n, n, "notice", "style", "long line") for n in range(1, 71)]
    errors = [Annotation("b.py", n, n, "failure", "syntax", "unexpected token") for n in range(1, 11)]
    async with aiohttp.ClientSession() as session:
        reporter = await reporter_on(fake_github, session, after=5.0)
        await reporter.stage_started("build")
        await reporter.stage_finished(StageOutcome("build", "failure", "build: failed", "80 findings",
                                                   annotations=notes + errors))
        await reporter.close()
    (only,) = updates(fake_github)  # a crash can never come between two batches of one conclusion
    sent = only["output"]["annotations"]  # type: ignore[index]
    assert len(sent) == 50
    assert [a["annotation_level"] for a in sent[:10]] == ["failure"] * 10
    assert "30 more annotation(s) not attached" in only["output"]["summary"]  # type: ignore[index]
