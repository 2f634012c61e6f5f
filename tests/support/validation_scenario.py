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
    (`Project.of(tmp_path)`), so the bot can tell a PR from this repository from one from a fork."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "dev")
        self.git("config", "uploadpack.allowAnySHA1InWant", "true")

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

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    @classmethod
    def of(cls, tmp_path: Path, full_name: str = REPO) -> Project:
        return cls(tmp_path / full_name)


class Scenario:
    def __init__(self, fake: FakeGitHub, bot: RunningBot, project: Project, installation_id: int) -> None:
        self.fake, self.bot, self.project, self.installation_id = fake, bot, project, installation_id

    def open_pull(self, sha: str, files: list[str], **kw: Any) -> int:
        number = self.fake.add_pull(REPO, head_sha=sha, files=files, head_ref="feature", **kw).number
        self.fake.repo(kw.get("head_repo") or REPO).clone_url = self.project.url
        return number

    async def deliver_pull(self, number: int, action: str = "opened", sender: str = "dev") -> float:
        event = pull_request_event(self.fake, REPO, number, self.installation_id, action=action, sender=sender)
        event["pull_request"]["head"]["repo"]["clone_url"] = self.project.url
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
