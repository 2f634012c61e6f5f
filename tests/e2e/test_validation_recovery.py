"""Validations that a crash, a retry or a cancellation interrupted (issue 14), in process: the real bot on
loopback, the fake GitHub, a real git repository and, where a snapshot runs, the real Docker engine.

- the reconciler's tasks, run at start-up: a validation stored without its check-run ids or job gets both
  (its check runs adopted by `external_id`, none created twice); one whose pull request moved on is
  cancelled and its check runs concluded; an open pull request nobody validated is validated;
- a job that used up its attempts ends its validation and says so on its check runs;
- a retried job does not send a concluded stage's annotations again (GitHub appends them);
- a cancellation in `analysis`, or before the pipeline started, concludes every check run `cancelled`;
- `/metrics` has each stage's duration by outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.store.validations import ValidationRecord
from handlers.validation import check_run_set, runner
from handlers.validation.gate import Run
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import pull_request_event
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config
from validators import pipeline

StartBot = Callable[..., Awaitable[RunningBot]]
NAMES = {"codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy", "codegen/web-eval"}
BROKEN = "def f(:\n    pass\n"


@pytest.fixture
async def scenario(fake_github: FakeGitHub, start_bot: StartBot, tmp_path: Path) -> Scenario:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "dev", "write")
    fake_github.set_file(REPO, ".github/codegen.yml", config(build="python3 -m compileall -q app.py"))
    bot = await start_bot()
    await reconciled(bot)
    return Scenario(fake_github, bot, Project.of(tmp_path), inst.id)


async def reconciled(bot: RunningBot) -> None:
    """The start-up pass of the reconciler is over (what a test stores next is not repaired before a restart)."""
    db = bot.server.db
    assert db is not None

    async def passed() -> bool:
        return bool(await db.read(lambda c: c.execute(
            "SELECT count(*) FROM jobs WHERE kind = 'reconcile' AND state = 'queued' AND run_at > ?",
            (time.time() + 60,)).fetchone()[0]))

    await eventually(passed, within=20, what="the reconciler's start-up pass")


async def restart(s: Scenario, start_bot: StartBot, **settings: Any) -> RunningBot:
    """Stop the bot and start it again on the same store (the reconciler's start-up pass runs)."""
    await s.bot.stop()
    s.bot = await start_bot(**settings)
    return s.bot


async def stored_without_ids(s: Scenario, number: int, sha: str) -> ValidationRecord:
    """What a crash between storing a validation and queueing its job leaves: the record, and its check runs on
    GitHub (created with the record's id as `external_id`), but no ids and no job in the store."""
    svc = s.bot.server.services.validation
    record = await svc.store.create(repo=REPO, pr_number=number, head_sha=sha, head_ref="feature",
                                    clone_url=s.project.url, source_url=s.project.url,
                                    installation_id=s.installation_id, state="queued", trigger="pull_request.opened")
    loaded = await svc.config.load("octo-org", "shop", None, installation_id=s.installation_id)
    gh = svc.github.installation(s.installation_id)
    await check_run_set.ensure(gh, "octo-org", "shop", record, check_run_set.bodies(record, loaded.config, Run("t")),
                               look_first=False)
    return record


def runs_of(fake: FakeGitHub, sha: str) -> list[Any]:
    return [r for r in fake.world.check_runs.values() if r.head_sha == sha and r.name in NAMES]


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {name}{labels} in /metrics")


async def test_a_validation_stored_without_check_run_ids_or_job_is_finished_at_start_up(
    scenario: Scenario, start_bot: StartBot, docker_client: docker.DockerClient
) -> None:
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(sha, ["app.py"], user="dev")
    record = await stored_without_ids(scenario, number, sha)
    bot = await restart(scenario, start_bot)
    runs = await scenario.wait_done(sha)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/analysis": "success", "codegen/build": "success", "codegen/test": "success",
        "codegen/deploy": "success", "codegen/web-eval": "skipped"}
    assert len(runs_of(scenario.fake, sha)) == len(NAMES)  # adopted, none created twice
    done = await bot.server.services.validation.store.get(record.id)
    assert done is not None and done.state == "done" and done.passed
    assert set(done.check_runs) == {"analysis", "build", "test", "deploy"}
    async with bot.session.get(f"{bot.url}/metrics") as resp:
        text = await resp.text()
    assert metric(text, "codegen_bot_reconciler_repairs_total", task="validations.stuck") == 1
    assert metric(text, "codegen_bot_validation_stage_seconds_count", stage="deploy", outcome="success") == 1


async def test_a_running_validation_whose_pull_request_moved_on_is_concluded(
    scenario: Scenario, start_bot: StartBot
) -> None:
    old = scenario.project.commit({"app.py": APP})
    number = scenario.open_pull(old, ["app.py"], user="dev")
    record = await stored_without_ids(scenario, number, old)
    store = scenario.bot.server.services.validation.store
    ids = {r.name.removeprefix("codegen/"): r.id for r in runs_of(scenario.fake, old) if r.status == "queued"}
    await store.record_check_runs(record.id, ids, {}, None)
    await store.update(record.id, state="running", started_at=1.0)  # its job is gone (none was queued)
    scenario.fake.repo(REPO).pulls[number].head_sha = scenario.project.commit({"README.md": "newer\n"})
    created = len(scenario.fake.calls("checks/create"))
    bot = await restart(scenario, start_bot, reconcile_open_prs=False)
    runs = await scenario.wait_done(old, names=5)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/analysis": "cancelled", "codegen/build": "cancelled", "codegen/test": "cancelled",
        "codegen/deploy": "cancelled", "codegen/web-eval": "skipped"}
    assert len(scenario.fake.calls("checks/create")) == created
    after = await bot.server.services.validation.store.get(record.id)
    assert after is not None and after.state == "cancelled" and set(after.reported or {}) >= set(ids)


async def test_check_runs_a_crash_left_unrecorded_are_concluded_when_the_pull_request_closes(
    scenario: Scenario,
) -> None:
    sha = scenario.project.commit({"app.py": APP})
    number = scenario.open_pull(sha, ["app.py"], user="dev")
    await stored_without_ids(scenario, number, sha)
    scenario.fake.repo(REPO).pulls[number].state = "closed"
    event = pull_request_event(scenario.fake, REPO, number, scenario.installation_id, action="closed", sender="dev")
    assert (await scenario.bot.deliver("pull_request", event))[0] == 202
    runs = await scenario.wait_done(sha, within=20)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/analysis": "cancelled", "codegen/build": "cancelled", "codegen/test": "cancelled",
        "codegen/deploy": "cancelled", "codegen/web-eval": "skipped"}


async def test_an_open_pull_request_nobody_validated_is_validated_at_start_up(
    scenario: Scenario, start_bot: StartBot
) -> None:
    fake, svc = scenario.fake, scenario.bot.server.services.validation
    seen = fake.add_pull(REPO, user="dev", head_ref="seen")
    await scenario.bot.record_passed_validation(REPO, seen, scenario.installation_id)  # the repository is active
    missed = fake.add_pull(REPO, user="dev", head_ref="missed")
    checked = fake.add_pull(REPO, user="dev", head_ref="checked")
    gh = svc.github.installation(scenario.installation_id)
    await gh.post("/repos/{owner}/{repo}/check-runs", {"owner": "octo-org", "repo": "shop"},
                  data={"name": "codegen/build", "head_sha": checked.head_sha, "status": "completed",
                        "conclusion": "success"})  # the bot saw this head, the store forgot it
    bot = await restart(scenario, start_bot)
    store = bot.server.services.validation.store
    record = await eventually(lambda: store.latest_for_sha(REPO, missed.head_sha), within=20,
                              what="the missed head's validation")
    assert record.trigger == "reconcile" and record.pr_number == missed.number
    await eventually(lambda: len(runs_of(fake, missed.head_sha)) == len(NAMES), within=20, what="its check runs")
    assert await store.latest_for_sha(REPO, checked.head_sha) is None
    assert runs_of(fake, seen.head_sha) == []
    assert any(c.query.get("state") == "open" for c in fake.calls("pulls/list"))


async def test_a_job_that_used_up_its_attempts_ends_its_validation(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("the engine is on fire")

    monkeypatch.setattr(runner, "_run", broken)
    sha = scenario.project.commit({"app.py": APP})
    number = scenario.open_pull(sha, ["app.py"], user="dev")
    await scenario.deliver_pull(number)
    db, store = scenario.bot.server.db, scenario.bot.server.services.validation.store
    assert db is not None

    async def failed_once() -> bool:
        return await db.read(lambda c: c.execute("SELECT count(*) FROM jobs WHERE kind = 'validation' AND attempts = 1"
                                           " AND error IS NOT NULL AND state = 'queued'").fetchone()[0])

    await eventually(failed_once, within=20, what="the first failed attempt")
    # the backoff before attempts 2 and 3 is 10 s and 20 s: the queue is told the second one failed too
    await db.write(lambda c: c.execute("UPDATE jobs SET attempts = 2, run_at = 0 WHERE kind = 'validation'"))
    runs = await scenario.wait_done(sha, within=30)
    record = await store.latest_for_sha(REPO, sha)
    assert record is not None and record.state == "done" and record.passed is False
    for name in ("codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy"):
        assert runs[name].conclusion == "cancelled"
        assert "interrupted after 3 attempts" in runs[name].output["summary"]
        assert "Re-run" in runs[name].output["summary"] and "engine is on fire" in runs[name].output["summary"]


async def test_a_retried_job_does_not_send_a_concluded_stages_annotations_again(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, docker_client: docker.DockerClient
) -> None:
    original = pipeline._Validation.in_container
    calls: list[int] = []

    async def fails_once(self: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the engine hiccuped")  # after `analysis` reported, before the container
        await original(self)

    monkeypatch.setattr(pipeline._Validation, "in_container", fails_once)
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST, "broken.py": BROKEN})
    number = scenario.open_pull(sha, ["app.py", "broken.py"], user="dev")
    await scenario.deliver_pull(number)
    runs = await scenario.wait_done(sha, within=240)  # the retry comes after a 10 s backoff
    assert len(calls) == 2
    analysis = runs["codegen/analysis"]
    assert analysis.conclusion == "failure" and len(analysis.annotations) == 1
    updates = [c for c in scenario.fake.calls("checks/update") if c.path_params["check_run_id"] == str(analysis.id)]
    assert len(updates) == 1, "the concluded analysis was reported again by the retried job"
    assert runs["codegen/test"].conclusion == "success"
    # the store knew which stage was concluded: GitHub was not asked
    assert [c for c in scenario.fake.calls("checks/list-for-ref") if c.query.get("filter") == "all"] == []
    async with scenario.bot.session.get(f"{scenario.bot.url}/metrics") as resp:
        text = await resp.text()
    assert metric(text, "codegen_bot_validation_stage_seconds_count", stage="analysis", outcome="failure") == 1


@pytest.mark.parametrize("where", ["analysis", "before the pipeline"])
async def test_a_cancellation_concludes_every_check_run_cancelled(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch, docker_client: docker.DockerClient, where: str
) -> None:
    reached = asyncio.Event()

    async def stuck(*args: Any) -> Any:
        reached.set()
        await asyncio.sleep(300)

    if where == "analysis":
        monkeypatch.setattr(pipeline, "run_analysis", stuck)
    else:
        monkeypatch.setattr(runner, "_prepare", stuck)
    sha = scenario.project.commit({"app.py": APP})
    number = scenario.open_pull(sha, ["app.py"], user="dev")
    await scenario.deliver_pull(number)
    await asyncio.wait_for(reached.wait(), 30)
    scenario.fake.repo(REPO).pulls[number].state = "closed"
    event = pull_request_event(scenario.fake, REPO, number, scenario.installation_id, action="closed", sender="dev")
    assert (await scenario.bot.deliver("pull_request", event))[0] == 202
    runs = await scenario.wait_done(sha, within=20)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/analysis": "cancelled", "codegen/build": "cancelled", "codegen/test": "cancelled",
        "codegen/deploy": "cancelled", "codegen/web-eval": "skipped"}
    record = await scenario.bot.server.services.validation.store.latest_for_sha(REPO, sha)
    assert record is not None and record.state == "cancelled"
