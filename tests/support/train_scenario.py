"""Pull requests merged by the bot's merge train for real: a git repository behind the fake GitHub (merges and
branch updates happen in git, `FakeGitHub.back_with_git`), validations in Docker, and the webhooks GitHub
would send after the bot's own writes (`synchronize` after an update of a branch, `closed` after a merge),
relayed to the bot as GitHub would. Shared by tests/e2e/test_merge_train_git.py and bench/merge_train.py."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import AsyncIterator

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import pull_request_event
from tests.support.validation_scenario import Project

TEST_COMMAND = "python3 -m unittest discover -s tests -q"
CONFIG = f"""\
snapshot:
  image: codegen-bot-base:bookworm
  build: ["python3 -m compileall -q ."]
  test: ["{TEST_COMMAND}"]
  step_timeout_minutes: 2
  timeout_minutes: 5
  resources: {{cpus: 1, memory: 256m, pids: 128}}
merge: {{auto_merge: true, train: true, method: merge}}
"""


class TrainYard:
    def __init__(self, fake: FakeGitHub, bot: RunningBot, project: Project, repo: str, installation_id: int) -> None:
        self.fake, self.bot, self.project, self.repo, self.installation_id = fake, bot, project, repo, installation_id
        self.relayed = 0
        #: how many pull requests the train is to decide (the bench waits for all)
        self.expected = 0

    def open_pull(self, branch: str, files: dict[str, str]) -> int:
        """A pull request from `branch`, cut from main as it is now, with `files` changed."""
        self.project.git("checkout", "-q", "-b", branch, "main")
        sha = self.project.commit(files)
        self.project.git("checkout", "-q", "main")
        number = self.fake.add_pull(self.repo, head_sha=sha, head_ref=branch, files=list(files)).number
        self.project.pull_head(number, sha)
        return number

    async def deliver(self, number: int, action: str = "opened") -> None:
        event = pull_request_event(self.fake, self.repo, number, self.installation_id, action=action, sender="dev")
        event["pull_request"]["head"]["repo"]["clone_url"] = self.project.url
        event["pull_request"]["base"]["repo"]["clone_url"] = self.project.url
        status, _ = await self.bot.deliver("pull_request", event)
        assert status == 202

    @contextlib.asynccontextmanager
    async def relaying(self) -> AsyncIterator[None]:
        """While inside: GitHub's webhooks for the bot's branch updates and merges reach the bot."""
        task = asyncio.create_task(self._relay())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _relay(self) -> None:
        seen: set[int] = set()
        while True:
            for call in list(self.fake.requests):
                if id(call) in seen or call.status is None or call.status >= 300:
                    continue
                if call.operation_id in ("pulls/update-branch", "pulls/merge"):
                    seen.add(id(call))
                    number = int(call.path_params["pull_number"])
                    updated = call.operation_id == "pulls/update-branch"
                    await self.deliver(number, "synchronize" if updated else "closed")
                    self.relayed += 1
            await asyncio.sleep(0.1)

    def merged(self) -> list[int]:
        return [n for n, p in self.fake.repo(self.repo).pulls.items() if p.merged]

    def rejected(self) -> list[int]:
        """Pull requests the train dropped because their validation on top of the base failed."""
        return sorted({c.issue_number for c in self.fake.world.comments.values()
                       if c.repo == self.repo and "Left the merge train" in c.body})

    def main_passes(self, ref: str = "main") -> bool:
        """Does `ref`'s tree pass the project's tests (run here, outside any snapshot)?"""
        tree = subprocess.run(["git", "archive", "--format=tar", ref], cwd=self.project.root, check=True,
                              capture_output=True).stdout
        with tempfile.TemporaryDirectory() as scratch:
            with tarfile.open(fileobj=io.BytesIO(tree)) as tar:
                tar.extractall(scratch, filter="data")
            done = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests", "-q"], cwd=scratch,
                                  capture_output=True, timeout=120)
        return done.returncode == 0


def base_files() -> dict[str, str]:
    """A small project whose tests all live in tests/: `shared.VALUE` is what two PRs disagree about."""
    return {
        "lib/__init__.py": "",
        "lib/shared.py": "VALUE = 1\n",
        "tests/__init__.py": "",
        "tests/test_shared.py": (
            "import unittest\nfrom lib import shared\n\nclass T(unittest.TestCase):\n"
            "    def test_value(self):\n        self.assertIn(shared.VALUE, (1, 2))\n"
        ),
    }


def module_pull(i: int) -> dict[str, str]:
    """PR i: a module of its own and its test; passes alone and with any other module PR."""
    return {
        f"lib/mod{i}.py": f"def value():\n    return {i}\n",
        f"tests/test_mod{i}.py": (
            f"import unittest\nfrom lib import mod{i}\n\nclass T(unittest.TestCase):\n"
            f"    def test_value(self):\n        self.assertEqual(mod{i}.value(), {i})\n"
        ),
    }


def changes_shared() -> dict[str, str]:
    """Changes `shared.VALUE` to 2 (its own test accepts it): passes alone."""
    return {"lib/shared.py": "VALUE = 2\n"}


def relies_on_shared() -> dict[str, str]:
    """Adds a feature that relies on `shared.VALUE == 1`: passes alone, fails once the change above landed."""
    return {
        "lib/feature.py": "from lib import shared\n\ndef doubled():\n    return shared.VALUE * 2\n",
        "tests/test_feature.py": (
            "import unittest\nfrom lib import feature\n\nclass T(unittest.TestCase):\n"
            "    def test_doubled(self):\n        self.assertEqual(feature.doubled(), 2)\n"
        ),
    }
