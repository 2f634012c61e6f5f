"""Merge-train benchmark (figures, not a test; issue 15, item 4). Needs Docker and the base image (`make docker`).

20 pull requests become ready together on a repository with `merge.train: true`: 18 each add a module and
its test, one changes `shared.VALUE`, one adds a feature that relies on the old value (each passes alone;
the last two break `main` together). The real bot validates them in Docker, a real git repository behind the
fake GitHub performs the merges and branch updates, and GitHub's webhooks for the bot's writes are relayed
(tests/support/train_scenario.py). After every merge the tests are run on `main`.

It prints: merged, rejected (left the train because the validation on top of the base failed), how many
times `main` was red after a merge (goal: 0), validations run, and the wall time.

    .venv/bin/python bench/merge_train.py [--pulls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import bot_settings, launch
from tests.support.train_scenario import (
    CONFIG,
    TrainYard,
    base_files,
    changes_shared,
    module_pull,
    relies_on_shared,
)
from tests.support.validation_scenario import Project

REPO = "octo-org/train"


async def watch_main(yard: TrainYard, until: float) -> int:
    """Run main's tests after every merge; how many times they failed."""
    red, checked = 0, 0
    while time.monotonic() < until and len(yard.merged()) + len(yard.rejected()) < yard.expected:
        merges = len(yard.merged())
        if merges > checked:
            checked = merges
            red += 0 if await asyncio.to_thread(yard.main_passes, "main") else 1
        await asyncio.sleep(0.5)
    return red


async def main(pulls: int, minutes: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        fake = FakeGitHub(contract_checks=False)
        await fake.start()
        inst = fake.add_installation("octo-org", [REPO])
        project = Project.of(tmp, REPO)
        project.commit(base_files())
        fake.repo(REPO).clone_url = project.url
        fake.back_with_git(REPO, project.root)
        fake.set_file(REPO, ".github/codegen.yml", CONFIG)
        bot = await launch(bot_settings(fake, tmp, validation_concurrency=2, log_level="WARNING"), tmp / ".env")
        yard = TrainYard(fake, bot, project, REPO, inst.id)
        numbers = [yard.open_pull(f"module-{i}", module_pull(i)) for i in range(pulls - 2)]
        numbers.insert(pulls // 4, yard.open_pull("change-shared", changes_shared()))
        numbers.insert(pulls // 2, yard.open_pull("feature", relies_on_shared()))
        yard.expected = len(numbers)
        started = time.monotonic()
        try:
            async with yard.relaying():
                for number in numbers:
                    await yard.deliver(number)
                red = await watch_main(yard, started + minutes * 60)
                red += 0 if await asyncio.to_thread(yard.main_passes, "main") else 1
        finally:
            await bot.stop()
            await fake.close()
        validations = len({(c.json["head_sha"]) for c in fake.calls("checks/create")
                           if c.json["name"] == "codegen/test"})
    print(f"merge train: {pulls} pull requests, {time.monotonic() - started:.0f} s")
    print(f"  merged {len(yard.merged())}, rejected {len(yard.rejected())}, main red {red} time(s) after a merge,"
          f" {validations} validations ({validations - pulls} after a branch update)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pulls", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.pulls, args.minutes))
