"""The merge train for real (issue 15, item 4): two pull requests that each pass alone but break `main`
together never both land. A real git repository behind the fake GitHub (its merges and branch updates
happen in git), real validations in Docker, GitHub's `synchronize`/`closed` webhooks relayed after the
bot's own writes (tests/support/train_scenario.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import docker

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.train_scenario import CONFIG, TrainYard, base_files, changes_shared, relies_on_shared
from tests.support.validation_scenario import Project

REPO = "octo-org/shop"
StartBot = Callable[..., Awaitable[RunningBot]]


async def test_two_pull_requests_that_break_together_never_both_land(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    project = Project.of(tmp_path, REPO)
    project.commit(base_files())
    fake_github.repo(REPO).clone_url = project.url
    fake_github.back_with_git(REPO, project.root)
    fake_github.set_file(REPO, ".github/codegen.yml", CONFIG)
    bot = await start_bot(validation_concurrency=2)
    yard = TrainYard(fake_github, bot, project, REPO, inst.id)
    first = yard.open_pull("change-shared", changes_shared())
    second = yard.open_pull("feature", relies_on_shared())
    assert yard.main_passes(f"refs/pull/{first}/head") and yard.main_passes(f"refs/pull/{second}/head")

    async with yard.relaying():
        await yard.deliver(first)
        await yard.deliver(second)
        await eventually(lambda: len(yard.merged()) + len(yard.rejected()) == 2, within=300,
                         what=lambda: f"both decided: merged {yard.merged()}, rejected {yard.rejected()}")
        await bot.drain()

    (landed,) = yard.merged()
    (dropped,) = yard.rejected()
    assert {landed, dropped} == {first, second}
    assert yard.main_passes("main")  # main was never red
    assert fake_github.calls("pulls/update-branch"), "the second was updated onto main and validated again"
    dropped_head = fake_github.repo(REPO).pulls[dropped].head_sha
    test_runs = [r for r in fake_github.world.check_runs.values()
                 if r.head_sha == dropped_head and r.name == "codegen/test"]
    assert [r.conclusion for r in test_runs] == ["failure"]  # on top of the base, it fails
