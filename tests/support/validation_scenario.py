"""A pull request validated for real: a git repository the bot fetches from (file://), the fake GitHub's PR
and check runs, and the running bot. Shared by the validation and closed-loop end-to-end tests."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import pull_request_event

REPO = "octo-org/shop"

APP = '''\
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

http.server.HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
'''
TEST = '''\
import unittest

class T(unittest.TestCase):
    def test_math(self):
        self.assertEqual(1 + 1, 2)

unittest.main()
'''


def config(test: str = "python3 test_app.py", extra: str = "", build: str = "python3 -m compileall -q .") -> str:
    return textwrap.dedent(f"""\
        snapshot:
          image: codegen-bot-base:bookworm
          build: ["{build}"]
          test: ["{test}"]
          deploy: python3 app.py
          port: 8000
          step_timeout_minutes: 1
          timeout_minutes: 5
          resources: {{cpus: 1, memory: 256m, pids: 128}}
        health_check: {{path: /, timeout_seconds: 20}}
        {extra}""")


class Project:
    """A real git repository the bot fetches from: its file:// clone URL ends in `owner/name`, as GitHub's does
    (`Project.of(tmp_path)`), so the bot can tell a PR from this repository from one from a fork.

    It serves commits as GitHub does: only those reachable from a ref (a branch, or a PR head published with
    `pull_head`), never an arbitrary SHA. A fork's commits are made in its own working copy (`fork()`) and
    enter this repository only when published as `refs/pull/N/head`."""

    def __init__(self, root: Path, origin: Project | None = None) -> None:
        self.root = root
        root.parent.mkdir(parents=True, exist_ok=True)
        if origin is None:
            root.mkdir()
            self.git("init", "-q", "-b", "main")
        else:
            subprocess.run(["git", "clone", "-q", origin.url, str(root)], check=True, capture_output=True)
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "dev")
        # GitHub serves `git fetch origin <sha>` only for a commit reachable from one of its refs
        # (refs/heads/*, refs/pull/N/head), not for every object it stores; git's server-side equivalent is
        # https://git-scm.com/docs/git-config#Documentation/git-config.txt-uploadpackallowReachableSHA1InWant
        # Git enforces it for protocol v0/v1 only (a v2 `want` may name any object the repository has), hence
        # fork commits are kept out of this repository until `pull_head` publishes them.
        self.git("config", "uploadpack.allowReachableSHA1InWant", "true")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, files: dict[str, str]) -> str:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "change")
        return self.git("rev-parse", "HEAD")

    def fork(self, root: Path) -> Project:
        """A fork's working copy (a clone): its commits are not in this repository until `pull_head`."""
        return Project(root, origin=self)

    def pull_head(self, number: int, sha: str, fork: Project | None = None) -> None:
        """Publish `sha` as pull request `number`'s head, as GitHub keeps it in the base repository (brought
        over from `fork`'s working copy when it was committed there)."""
        if fork is not None:
            self.git("fetch", "-q", "--no-tags", str(fork.root), f"+{sha}:refs/pull/{number}/head")
        else:
            self.git("update-ref", f"refs/pull/{number}/head", sha)

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    @classmethod
    def of(cls, tmp_path: Path, full_name: str = REPO) -> Project:
        return cls(tmp_path / full_name)


class Scenario:
    def __init__(self, fake: FakeGitHub, bot: RunningBot, project: Project, installation_id: int) -> None:
        self.fake, self.bot, self.project, self.installation_id = fake, bot, project, installation_id

    def open_pull(
        self, sha: str, files: list[str], fork: Project | None = None, fork_url: str | None = None, **kw: Any
    ) -> int:
        """A PR whose head `sha` is published in the base repository (the Project) as `refs/pull/N/head`,
        from `fork`'s working copy if it was committed there. A fork (`head_repo=`) has its own clone URL:
        `fork_url`, else the Project's."""
        number = self.fake.add_pull(REPO, head_sha=sha, files=files, head_ref="feature", **kw).number
        self.fake.repo(REPO).clone_url = self.project.url
        head = kw.get("head_repo") or REPO
        if head != REPO:
            self.fake.repo(head).clone_url = fork_url or self.project.url
        self.project.pull_head(number, sha, fork)
        return number

    async def deliver_pull(self, number: int, action: str = "opened", sender: str = "dev") -> float:
        event = pull_request_event(self.fake, REPO, number, self.installation_id, action=action, sender=sender)
        head = self.fake.repo(REPO).pulls[number].head_repo or REPO
        event["pull_request"]["head"]["repo"]["clone_url"] = self.fake.repo(head).clone_url or self.project.url
        event["pull_request"]["base"]["repo"]["clone_url"] = self.project.url
        started = time.monotonic()
        status, _ = await self.bot.deliver("pull_request", event)
        assert status == 202
        return started

    def runs_for(self, sha: str) -> dict[str, Any]:
        runs = self.fake.world.check_runs.values()
        return {r.name: r for r in runs if r.head_sha == sha and r.name != "codegen/config"}

    def summary(self, sha: str) -> str:
        """Each check run of `sha` as (status, conclusion, title): what a timeout reports."""
        return repr({n: (r.status, r.conclusion, r.output.get("title")) for n, r in self.runs_for(sha).items()})

    async def wait_done(self, sha: str, within: float = 180.0, names: int = 5, drain: bool = True) -> dict[str, Any]:
        def done() -> dict[str, Any]:
            runs = self.runs_for(sha)
            return runs if len(runs) >= names and all(r.status == "completed" for r in runs.values()) else {}

        runs = await eventually(done, within=within,
                                what=lambda: f"{names} completed check runs of {sha[:12]}: {self.summary(sha)}")
        if drain:
            await self.bot.drain()
        return runs
