"""The closed loop end to end: failed validations go back to the agent; passing PRs merge exactly as
validated. Real bot, real git, real Docker; fake GitHub and fake Codegen (both contract-checked)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event, repository
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config
from tests.support.webhooks import payload

StartBot = Callable[..., Awaitable[RunningBot]]
FAILING = "python3 -c \\\"print('AssertionError: expected 200, got 500'); raise SystemExit(1)\\\""


@pytest.fixture
async def loop(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot, docker_client: docker.DockerClient,
    tmp_path: Path,
) -> Scenario:
    inst = fake_github.add_installation("octo-org", [REPO])
    for user, role in (("dev", "write"), ("maintainer", "write"), ("visitor", "read")):
        fake_github.set_permission(REPO, user, role)
    bot = await start_bot(codegen_api_url=fake_codegen.url, codegen_api_token=fake_codegen.token,
                          codegen_org_id=fake_codegen.org_id, agent_poll_seconds=0.02)
    return Scenario(fake_github, bot, Project.of(tmp_path), inst.id)


async def say(s: Scenario, number: int, body: str, user: str = "maintainer") -> None:
    event = issue_comment_event(s.fake, REPO, number, s.installation_id, body, user=user)
    await s.bot.deliver("issue_comment", event)
    await s.bot.drain()


def merges(s: Scenario) -> list[Any]:
    return [c for c in s.fake.calls("pulls/merge") if c.status == 200]


def comments(s: Scenario, number: int) -> list[str]:
    return [c.body for c in s.fake.world.comments.values() if c.repo == REPO and c.issue_number == number]


async def push(s: Scenario, number: int, files: dict[str, str]) -> str:
    sha = s.project.commit(files)
    s.fake.repo(REPO).pulls[number].head_sha = sha
    await s.deliver_pull(number, action="synchronize", sender="dev")
    return sha


async def test_agent_pr_is_fixed_by_the_agent_then_merged_as_validated(
    loop: Scenario, fake_codegen: FakeCodegen
) -> None:
    s = loop
    s.fake.set_file(REPO, ".github/codegen.yml", config(test="python3 test_app.py",
                                                         extra="merge: {auto_merge: true, method: rebase}",
                                                         build="python3 -m compileall -q app.py"))
    broken = s.project.commit({"app.py": APP, "test_app.py": TEST.replace("1 + 1, 2", "1 + 1, 3"),
                               "bad.py": "def f(:\n    pass\n"})
    number = s.open_pull(broken, ["app.py", "test_app.py", "bad.py"], user="dev")
    fake_codegen.script("make the shop", [{"status": "COMPLETE", "result": "Opened a PR.",
                        "github_pull_requests": [{"id": 1, "title": "Shop", "created_at": "2026-11-24T00:00:00Z",
                                                  "url": f"https://github.com/{REPO}/pull/{number}",
                                                  "head_branch_name": "feature"}]}])
    await say(s, number, "/codegen make the shop work")
    run = await eventually(lambda: next(iter(fake_codegen.runs.values()), None), within=60, what="agent run")
    await eventually(lambda: s.bot.server.features and True, within=60, what="bot")
    linked = await eventually(lambda: s.bot.server.services.agent_runs.run_for_pr(REPO, number), within=30,
                              what="the run linked to the PR")
    assert linked.status == "finished"

    await s.deliver_pull(number, sender="dev")
    await s.wait_done(broken)
    await eventually(lambda: len(run.prompts) >= 2, within=60, what="the resume with the error context")
    context = run.prompts[-1]
    assert "AssertionError" in context and "python3 test_app.py" in context  # failing step and its log tail
    assert "bad.py:1" in context  # the syntax error annotation, file:line
    assert "feature" in context  # push to the PR's branch
    assert not merges(s)
    status = next(c for c in comments(s, number) if "codegen-bot:run:" in c)
    await eventually(lambda: "Fix attempt 1" in next(c for c in comments(s, number) if "codegen-bot:run:" in c),
                     within=60, what="attempt shown")
    del status

    fixed = await push(s, number, {"test_app.py": TEST, "bad.py": "def f():\n    pass\n"})
    await s.wait_done(fixed)
    merge = await eventually(lambda: merges(s), within=30, what="the merge")
    assert merge[0].json == {"sha": fixed, "merge_method": "rebase"}
    await eventually(lambda: any("Merged" in c and fixed[:12] in c for c in comments(s, number)), within=30,
                     what="the comment on the merge")  # posted after the merge request returns


async def test_the_attempt_bound_stops_the_loop_and_asks_for_a_person(
    loop: Scenario, fake_codegen: FakeCodegen
) -> None:
    s = loop
    s.fake.set_file(REPO, ".github/codegen.yml",
                    config(test=FAILING) + "agent: {max_fix_attempts: 1}\n")
    sha = s.project.commit({"app.py": APP, "test_app.py": TEST})
    number = s.open_pull(sha, ["app.py"], user="dev")
    fake_codegen.script("repair everything", [{"status": "COMPLETE", "result": "PR",
                        "github_pull_requests": [{"id": 1, "created_at": "x", "title": "t",
                                                  "url": f"https://github.com/{REPO}/pull/{number}"}]}])
    await say(s, number, "/codegen repair everything please")
    await eventually(lambda: s.bot.server.services.agent_runs.run_for_pr(REPO, number), within=30,
                     what="the run linked to the PR")
    await s.deliver_pull(number, sender="dev")
    await s.wait_done(sha)
    run = next(iter(fake_codegen.runs.values()))
    await eventually(lambda: len(run.prompts) == 2, within=60, what="first fix attempt")
    await eventually(lambda: _finished(s, number), within=30, what="the fix run to finish")
    again = await push(s, number, {"README.md": "still failing\n"})
    await s.wait_done(again)
    labels = await eventually(lambda: s.fake.calls("issues/add-labels"), within=60, what="the label")
    assert labels[0].json == {"labels": ["codegen: needs-human"]}
    assert any("A person is needed here" in c for c in comments(s, number))
    assert len(run.prompts) == 2  # no second fix attempt


async def _finished(s: Scenario, number: int) -> bool:
    run = await s.bot.server.services.agent_runs.run_for_pr(REPO, number)
    return run is not None and run.status == "finished"


async def test_fix_command_on_a_persons_pr_starts_a_run_with_the_context(
    loop: Scenario, fake_codegen: FakeCodegen
) -> None:
    s = loop
    s.fake.set_file(REPO, ".github/codegen.yml", config(test=FAILING))
    sha = s.project.commit({"app.py": APP, "test_app.py": TEST})
    number = s.open_pull(sha, ["app.py"], user="dev")
    await s.deliver_pull(number, sender="dev")
    runs = await s.wait_done(sha)
    assert any(a["identifier"] == "fix" for a in runs["codegen/test"].actions)  # the "Fix with Codegen" button
    await say(s, number, "/codegen fix keep the public API", user="visitor")
    assert fake_codegen.runs == {}  # read permission is not enough
    await say(s, number, "/codegen fix keep the public API")
    run = await eventually(lambda: next(iter(fake_codegen.runs.values()), None), within=60, what="the fix run")
    assert "expected 200, got 500" in run.prompt and "keep the public API" in run.prompt


async def test_a_pending_required_check_waits_then_merges_and_a_moved_head_is_not_merged(loop: Scenario) -> None:
    s = loop
    s.fake.set_file(REPO, ".github/codegen.yml", config(extra="merge: {auto_merge: true}"))
    s.fake.protect_branch(REPO, "main", required_contexts=["ci/lint"])
    sha = s.project.commit({"app.py": APP, "test_app.py": TEST})
    number = s.open_pull(sha, ["app.py"], user="dev")
    await s.deliver_pull(number, sender="dev")
    await s.wait_done(sha)
    await asyncio.sleep(2.0)  # past the debounce: nothing may merge while ci/lint has not reported
    assert not merges(s)
    s.fake.add_status(REPO, sha, "ci/lint", "success")
    await s.bot.deliver("status", status_event(s, sha, "ci/lint", "success"))
    merge = await eventually(lambda: merges(s), within=30, what="the merge after ci/lint")
    assert merge[0].json == {"sha": sha, "merge_method": "squash"}


def status_event(s: Scenario, sha: str, context: str, state: str) -> dict[str, Any]:
    """The recorded `status` delivery, re-pointed at this repository and commit."""
    data = copy.deepcopy(payload("status/with-installation"))
    repository(data, REPO)
    data.update(sha=sha, context=context, state=state, installation={"id": s.installation_id},
                branches=[{"name": "feature", "commit": {"sha": sha, "url": ""}, "protected": False}])
    return data


async def test_a_head_that_moves_after_validation_is_never_merged(loop: Scenario) -> None:
    s = loop
    s.fake.set_file(REPO, ".github/codegen.yml", config(extra="merge: {auto_merge: true}"))
    sha = s.project.commit({"app.py": APP, "test_app.py": TEST})
    number = s.open_pull(sha, ["app.py"], user="dev")
    s.fake.fail_next("PUT", "pulls/merge", 409, body={
        "message": "Head branch was modified. Review and try the merge again.",
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"})
    await s.deliver_pull(number, sender="dev")
    await s.wait_done(sha)
    notice = await eventually(lambda: [c for c in comments(s, number) if "Did not merge" in c], within=30,
                              what="the 409 notice")
    assert "head moved after validation (409: Head branch was modified" in notice[0]  # GitHub's own words
    assert len(s.fake.calls("pulls/merge")) == 1 and not merges(s)  # reported, never retried blindly

    moved = s.project.commit({"README.md": "pushed after validation\n"})
    s.fake.repo(REPO).pulls[number].head_sha = moved  # GitHub moved on; no delivery about it yet
    await s.bot.deliver("status", status_event(s, moved, "ci/other", "success"))
    await asyncio.sleep(2.5)  # past the debounce
    await s.bot.drain()
    assert s.fake.calls("pulls/get"), "the status did not lead to an evaluation"
    assert len(s.fake.calls("pulls/merge")) == 1  # the unvalidated head is not merged
