"""Validations end to end: real bot, real git repository, real Docker engine, fake GitHub (contract-checked)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config

StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def scenario(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, tmp_path: Path
) -> Scenario:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "dev", "write")
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_permission(REPO, "stranger", "read")
    bot = await start_bot(validation_concurrency=2)
    return Scenario(fake_github, bot, Project.of(tmp_path), inst.id)


async def test_a_passing_pull_request_gets_four_green_check_runs(scenario: Scenario) -> None:
    scenario.fake.set_file(REPO, ".github/codegen.yml", config())
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST, ".github/codegen.yml": config()})
    number = scenario.open_pull(sha, ["app.py", "test_app.py"])
    started = await scenario.deliver_pull(number)
    runs = await scenario.wait_done(sha)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/build": "success", "codegen/test": "success", "codegen/deploy": "success",
        "codegen/analysis": "success", "codegen/web-eval": "skipped"}
    first = scenario.fake.calls("checks/create")
    # queued at once; web-eval, which is not configured, is created concluded (one request, not two)
    assert {c.json["name"]: c.json["status"] for c in first if c.json["name"] != "codegen/config"} == {
        "codegen/build": "queued", "codegen/test": "queued", "codegen/deploy": "queued",
        "codegen/analysis": "queued", "codegen/web-eval": "completed"}
    assert time.monotonic() > started
    assert "healthy" in runs["codegen/deploy"].output["title"]
    assert "web_eval.pages" in runs["codegen/web-eval"].output["summary"]  # says how to enable it
    assert any(a["identifier"] == "rerun" for a in runs["codegen/test"].actions)
    record = await scenario.bot.server.services.validation.store.latest_for_sha(REPO, sha)
    assert record is not None and record.passed and record.report


async def test_a_failing_test_shows_its_log_tail_and_annotations_for_syntax_errors(scenario: Scenario) -> None:
    failing = "python3 -c \\\"print('boom: expected 2, got 3'); raise SystemExit(1)\\\""
    scenario.fake.set_file(REPO, ".github/codegen.yml", config(test=failing, build="python3 -m compileall -q app.py"))
    broken = {f"pkg/mod{i}.py": "".join(f"def f{j}(:\n    pass\n" for j in range(20)) for i in range(3)}
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST, **broken})
    number = scenario.open_pull(sha, ["app.py", *broken])
    await scenario.deliver_pull(number)
    runs = await scenario.wait_done(sha)
    test = runs["codegen/test"]
    assert test.conclusion == "failure" and "boom: expected 2, got 3" in test.output["text"]
    assert runs["codegen/deploy"].conclusion == "skipped"
    analysis = runs["codegen/analysis"]
    assert analysis.conclusion == "failure"
    errors = [a for a in analysis.annotations if a.annotation_level == "failure"]
    # 60 syntax errors: the conclusion is one request, with GitHub's 50 per request, and says the rest
    assert len(errors) == 50 and {a.path for a in errors} == set(broken)
    assert sorted(a.start_line for a in errors if a.path == "pkg/mod0.py")[:3] == [1, 3, 5]
    assert "10 more annotation(s) not attached" in analysis.output["summary"]
    sizes = [len((c.json.get("output") or {}).get("annotations") or []) for c in scenario.fake.calls("checks/update")]
    assert max(sizes) == 50 and sum(sizes) == 50


async def test_a_new_push_cancels_the_running_validation(scenario: Scenario) -> None:
    scenario.fake.set_file(REPO, ".github/codegen.yml", config(test="sleep 50"))
    old = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(old, ["app.py"])
    await scenario.deliver_pull(number)
    await eventually(lambda: getattr(scenario.runs_for(old).get("codegen/test"), "status", None) == "in_progress",
                     within=60, what="the test stage to start")
    new = scenario.project.commit({"README.md": "new\n"})
    pull = scenario.fake.repo(REPO).pulls[number]
    pull.head_sha = new
    cancel_started = time.monotonic()
    await scenario.deliver_pull(number, action="synchronize")
    runs = await scenario.wait_done(old, within=30, drain=False)
    assert runs["codegen/test"].conclusion == "cancelled"
    assert time.monotonic() - cancel_started < 10
    assert scenario.runs_for(new), "the new head was not queued"


async def test_a_fork_from_a_stranger_waits_for_ok_to_test(scenario: Scenario) -> None:
    scenario.fake.set_file(REPO, ".github/codegen.yml", config())
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(sha, ["app.py"], head_repo="stranger/shop", user="stranger")
    await scenario.deliver_pull(number, sender="stranger")
    await scenario.bot.drain()
    held = scenario.runs_for(sha)
    assert {r.conclusion for r in held.values()} == {"action_required"}
    assert any(a["identifier"] == "ok-to-test" for a in held["codegen/build"].actions)
    event = issue_comment_event(scenario.fake, REPO, number, scenario.installation_id, "/codegen ok-to-test",
                                user="maintainer")
    event["issue"]["pull_request"] = {"url": "x"}
    await scenario.bot.deliver("issue_comment", event)
    await scenario.bot.drain()

    def approved_runs_done() -> list[Any]:
        runs = [r for r in scenario.runs_for(sha).values() if r.conclusion not in ("action_required",)]
        return runs if len(runs) >= 5 and all(r.status == "completed" for r in runs) else []

    runs = await eventually(approved_runs_done, within=180,
                            what=lambda: f"the validation after ok-to-test: {scenario.summary(sha)}")
    assert {r.name: r.conclusion for r in runs} == {
        "codegen/build": "success", "codegen/test": "success", "codegen/deploy": "success",
        "codegen/analysis": "success", "codegen/web-eval": "skipped"}


async def test_no_token_or_secret_is_visible_in_the_snapshot(scenario: Scenario) -> None:
    probe = "env; grep -rIl ghs_ /workspace /etc /root /tmp /home 2>/dev/null; exit 1"
    scenario.fake.set_file(REPO, ".github/codegen.yml", config(test=probe))
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(sha, ["app.py"])
    await scenario.deliver_pull(number)
    runs = await scenario.wait_done(sha)
    text = runs["codegen/test"].output["text"]
    assert "PATH=" in text  # the probe ran and printed its environment
    tokens = list(scenario.fake.world.tokens)
    assert tokens, "the bot never asked for an installation token"
    for token in tokens:
        assert token not in text
    assert "ghs_" not in text
    assert "BEGIN" not in text and "test-webhook-secret" not in text


async def test_leftover_snapshots_are_removed_at_start_up(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, base_image: str,
    tmp_path: Path,
) -> None:
    from handlers.validation.service import instance_id
    from tests.support.bot_fixtures import bot_settings

    mine = instance_id(bot_settings(fake_github, tmp_path))
    leftover = docker_client.containers.run(base_image, ["sleep", "infinity"], detach=True,
                                            labels={"codegen-bot.snapshot": "1", "codegen-bot.instance": mine})
    other = docker_client.containers.run(base_image, ["sleep", "infinity"], detach=True,
                                         labels={"codegen-bot.snapshot": "1", "codegen-bot.instance": "another"})
    try:
        await start_bot()
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(leftover.id)
        assert docker_client.containers.get(other.id).status == "running"  # another bot's snapshot is left alone
    finally:
        other.remove(force=True)


async def test_web_eval_check_run_embeds_signed_screenshots(scenario: Scenario, chromium: str) -> None:
    web = "web_eval: {pages: [{path: /, text: ok}, {path: /, text: missing words}]}"
    scenario.fake.set_file(REPO, ".github/codegen.yml", config(extra=web))
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(sha, ["app.py"])
    await scenario.deliver_pull(number)
    runs = await scenario.wait_done(sha)
    web_run = runs["codegen/web-eval"]
    assert web_run.conclusion == "failure" and "1 of 2" in web_run.output["title"]
    summary = web_run.output["summary"]
    assert "missing words" in summary
    link = summary.split("](", 1)[1].split(")", 1)[0]
    assert "/artifacts/" in link and "sig=" in link
    path = link[link.index("/artifacts/"):]
    async with scenario.bot.session.get(scenario.bot.url + path) as resp:
        assert resp.status == 200 and (await resp.read()).startswith(b"\x89PNG")
    record = await scenario.bot.server.services.validation.store.latest_for_sha(REPO, sha)
    items = record.report["outcomes"]["web-eval"]["details"]["items"]
    assert [i["passed"] for i in items] == [True, False]
