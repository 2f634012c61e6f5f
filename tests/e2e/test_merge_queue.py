"""GitHub's merge queue asks for this App's checks on its temporary commits (`merge_group`), end to end:
the real bot, a real git repository holding the queue's branch, a real Docker engine, the fake GitHub.

- a queue entry is validated (the base branch's config, the commit fetched by its queue branch) and passes
  with the same check-run names as a pull request;
- a failing entry concludes `failure`;
- a `destroyed` group's running validation is cancelled, its check runs concluded `cancelled`;
- the same `checks_requested` delivered again (another delivery id) starts no second set of check runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import docker
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import merge_group_event
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config

StartBot = Callable[..., Awaitable[RunningBot]]
NAMES = {"codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy", "codegen/web-eval"}


class Queue(Scenario):
    def entry(self, pr_number: int, files: dict[str, str]) -> tuple[str, str]:
        """GitHub's queue commit for `pr_number`: main's head plus the PR's changes, on the queue branch."""
        base_sha = self.project.git("rev-parse", "main")
        branch = f"gh-readonly-queue/main/pr-{pr_number}-{base_sha}"
        self.project.git("checkout", "-q", "-b", branch)
        head_sha = self.project.commit(files)
        self.project.git("checkout", "-q", "main")
        return head_sha, base_sha

    async def request_checks(self, head_sha: str, base_sha: str, pr_number: int, delivery_id: str | None = None,
                             action: str = "checks_requested", reason: str | None = None) -> None:
        event = merge_group_event(REPO, self.installation_id, head_sha=head_sha, base_sha=base_sha,
                                  pr_number=pr_number, action=action, reason=reason)
        event["repository"]["clone_url"] = self.project.url
        status, _ = await self.bot.deliver("merge_group", event, delivery_id=delivery_id)
        assert status == 202


@pytest.fixture
async def queue(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, tmp_path: Path
) -> Queue:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot(validation_concurrency=2)
    project = Project.of(tmp_path)
    project.commit({"app.py": APP, "test_app.py": TEST})
    fake_github.repo(REPO).clone_url = project.url
    return Queue(fake_github, bot, project, inst.id)


async def test_a_queue_entry_is_validated_at_the_base_config_and_passes(queue: Queue) -> None:
    queue.fake.set_file(REPO, ".github/codegen.yml", config(), ref="main")
    head, base = queue.entry(12, {"feature.py": "VALUE = 1\n"})
    await queue.request_checks(head, base, 12, delivery_id="queue-1")
    runs = await queue.wait_done(head)
    assert {n: r.conclusion for n, r in runs.items()} == {
        "codegen/build": "success", "codegen/test": "success", "codegen/deploy": "success",
        "codegen/analysis": "success", "codegen/web-eval": "skipped"}
    record = await queue.bot.server.services.validation.store.latest_for_sha(REPO, head)
    assert record is not None and record.passed and record.pr_number is None
    assert record.queue_base == "main" and record.trigger == "merge_group.checks_requested"

    await queue.request_checks(head, base, 12, delivery_id="queue-1-again")  # GitHub asks again
    await queue.bot.drain()
    created = [c for c in queue.fake.calls("checks/create") if c.json["head_sha"] == head]
    assert sorted(c.json["name"] for c in created) == sorted(NAMES)  # one set


async def test_a_failing_queue_entry_concludes_failure(queue: Queue) -> None:
    queue.fake.set_file(REPO, ".github/codegen.yml", config(test="python3 -c 'raise SystemExit(3)'"), ref="main")
    head, base = queue.entry(13, {"feature.py": "VALUE = 2\n"})
    await queue.request_checks(head, base, 13)
    runs = await queue.wait_done(head)
    assert runs["codegen/test"].conclusion == "failure"
    assert runs["codegen/deploy"].conclusion == "skipped"


async def test_a_destroyed_group_cancels_its_validation(queue: Queue) -> None:
    queue.fake.set_file(REPO, ".github/codegen.yml", config(test="sleep 50"), ref="main")
    head, base = queue.entry(14, {"feature.py": "VALUE = 3\n"})
    await queue.request_checks(head, base, 14)
    await eventually(lambda: getattr(queue.runs_for(head).get("codegen/test"), "status", None) == "in_progress",
                     within=60, what="the queue entry's test stage to start")
    await queue.request_checks(head, base, 14, action="destroyed", reason="dequeued")
    runs = await queue.wait_done(head, within=30)
    assert runs["codegen/test"].conclusion == "cancelled"
    assert runs["codegen/deploy"].conclusion == "cancelled"
    record = await queue.bot.server.services.validation.store.latest_for_sha(REPO, head)
    assert record is not None and record.state == "cancelled"
