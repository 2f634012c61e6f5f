"""A private fork's pull request (issue 13, point 2): the fork's clone URL is not readable with the base
installation's token, so the commit is fetched from the base repository, where GitHub keeps every PR head
as `refs/pull/N/head`. Real bot, real git repository (served like GitHub: reachable commits only), real
Docker engine, fake GitHub (contract-checked)."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker

from bot.store.validations import ValidationRecord
from handlers.validation.service import ValidationService
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config
from validators.git_source import GitCache

StartBot = Callable[..., Awaitable[RunningBot]]
FORK = "stranger/shop"
FORK_URL = "file:///nonexistent/stranger/shop.git"  # what the base installation cannot read


async def test_a_private_forks_head_is_fetched_from_the_base_repository_after_approval(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_permission(REPO, "stranger", "read")
    fake_github.set_file(REPO, ".github/codegen.yml", config())
    s = Scenario(fake_github, await start_bot(), Project.of(tmp_path), inst.id)
    s.project.commit({"README.md": "the shop\n"})
    fork = s.project.fork(tmp_path / "stranger-laptop" / FORK)
    sha = fork.commit({"app.py": APP, "test_app.py": TEST})
    number = s.open_pull(sha, ["app.py", "test_app.py"], fork=fork, fork_url=FORK_URL, number=7, head_repo=FORK,
                         user="stranger")
    fake_github.repo(FORK).private = True
    assert number == 7
    assert s.project.git("for-each-ref", "--contains", sha, "--format=%(refname)") == "refs/pull/7/head"

    await s.deliver_pull(number, sender="stranger")
    await s.bot.drain()
    held = s.runs_for(sha)
    assert {r.conclusion for r in held.values()} == {"action_required"}  # a read-only author: not run
    store = s.bot.server.services.validation.store
    record = await store.latest_for_sha(REPO, sha)
    assert record is not None and record.state == "held"
    assert record.clone_url == FORK_URL and record.source_url == s.project.url

    press = check_run_event(fake_github, REPO, inst.id, held["codegen/build"], "requested_action",
                            requested_action={"identifier": "ok-to-test"})  # pull_requests: [] (a fork's head)
    assert press["check_run"]["pull_requests"] == []
    press["sender"]["login"] = "maintainer"
    await s.bot.deliver("check_run", press)
    runs = await eventually(lambda: _approved_runs_done(s, sha), within=180,
                            what=lambda: f"the validation after Approve and run: {s.summary(sha)}")
    assert {r.name: r.conclusion for r in runs} == {
        "codegen/build": "success", "codegen/test": "success", "codegen/deploy": "success",
        "codegen/analysis": "success", "codegen/web-eval": "skipped"}

    cache: GitCache = s.bot.server.services.validation.git_cache
    base_cache = cache.repo_dir(s.project.url)
    assert _git(base_cache, "cat-file", "-t", sha) == "commit"
    assert _git(base_cache, "rev-parse", "refs/pull/7/head") == sha
    assert not cache.repo_dir(FORK_URL).exists()  # the fork's URL was never used
    assert [p.name for p in cache.root.iterdir()] == [base_cache.name]
    await s.bot.drain()  # the report is stored after the last check run is concluded
    done = await store.latest_for_sha(REPO, sha)
    assert done is not None and done.passed and done.state == "done"


async def test_a_validation_recorded_before_source_url_existed_is_fetched_from_its_clone_url(
    tmp_path: Path,
) -> None:
    """A record queued before migration 9 has no `source_url`: its head repository's URL is used, as then."""
    project = Project.of(tmp_path)
    sha = project.commit({"app.py": APP})
    record = ValidationRecord(
        id="v", repo=REPO, pr_number=7, head_sha=sha, head_ref="feature", clone_url=project.url, installation_id=1,
        state="queued", trigger="t", check_runs={}, report=None, passed=None, created_at=0.0, queued_at=0.0,
        started_at=None, finished_at=None)
    assert record.source_url is None
    cache = GitCache(tmp_path / "cache")
    service = SimpleNamespace(git_cache=cache)
    repo_dir = await ValidationService._fetch_commit(service, record, None)  # type: ignore[arg-type]
    assert repo_dir == cache.repo_dir(project.url)
    assert _git(repo_dir, "cat-file", "-t", sha) == "commit"
    assert _git(repo_dir, "for-each-ref", "--format=%(refname)", "refs/pull") == ""  # no pull ref was asked for


def _approved_runs_done(s: Scenario, sha: str) -> list[Any]:
    runs = [r for r in s.runs_for(sha).values() if r.conclusion != "action_required"]
    return runs if len(runs) >= 5 and all(r.status == "completed" for r in runs) else []


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
