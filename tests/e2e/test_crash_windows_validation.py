"""Crash windows of a validation (issue 14): `codegen-bot serve` as a real process, killed at a named point
(`CODEGEN_BOT_CRASH_AT`, bot/runtime/faults.py), restarted on the same SQLite file, and the same delivery
sent again (same id and body, as GitHub's manual redelivery does). Every time: one set of check runs for
the commit (one per name), every one concluded, the validation `done`, no annotation sent twice.

- `validation.store.after`: the record and its check runs exist on GitHub, their ids and the job are not
  stored. The delivery is handled again after the restart and adopts the check runs by `external_id`.
- `validation.stage.after`: `codegen/analysis` was concluded on GitHub (with its annotations), the store only
  knows it was being sent. The restarted job reads the check runs once and does not report it again.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import docker

from bot.runtime.faults import EXIT_CODE
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.payloads import pull_request_event
from tests.support.serve_process import free_port, serve, wait_healthy
from tests.support.validation_scenario import APP, REPO, TEST, Project, config
from tests.support.webhooks import headers_for

NAMES = {"codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy", "codegen/web-eval"}
BROKEN = "def f(:\n    pass\n"  # one syntax error: one `failure` annotation on codegen/analysis


class CrashedBot:
    """A PR in a real git repository, and the bot as a process that is killed and started again."""

    def __init__(self, fake: FakeGitHub, tmp_path: Path) -> None:
        self.fake, self.tmp_path, self.port = fake, tmp_path, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.installation = fake.add_installation("octo-org", [REPO]).id
        fake.set_permission(REPO, "dev", "write")
        fake.set_file(REPO, ".github/codegen.yml", config(build="python3 -m compileall -q app.py"))
        self.project = Project.of(tmp_path)
        self.sha = self.project.commit({"app.py": APP, "test_app.py": TEST, "broken.py": BROKEN})
        pull = fake.add_pull(REPO, head_sha=self.sha, files=["app.py", "broken.py"], user="dev")
        fake.repo(REPO).clone_url = self.project.url
        self.project.pull_head(pull.number, self.sha)
        event = pull_request_event(fake, REPO, pull.number, self.installation, sender="dev")
        event["pull_request"]["head"]["repo"]["clone_url"] = self.project.url
        event["pull_request"]["base"]["repo"]["clone_url"] = self.project.url
        self.body = json.dumps(event).encode()
        self.delivery_id = "crash-window-1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, crash_at: str | None = None) -> None:
        extra = {"CODEGEN_BOT_CRASH_AT": crash_at} if crash_at else {}
        self.proc = serve(self.tmp_path, self.fake, self.port, extra_env=extra)

    async def deliver(self) -> int:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, self.url, within=30)
            headers = headers_for("pull_request", self.body, WEBHOOK_SECRET, self.delivery_id)
            async with session.post(f"{self.url}/webhook", data=self.body, headers=headers) as resp:
                return resp.status

    async def died(self) -> int:
        assert self.proc is not None
        proc = self.proc
        await eventually(lambda: proc.poll() is not None, within=120, what=self.log_tail)
        return int(proc.returncode)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self) -> str:
        log = self.tmp_path / f"serve-{self.port}.log"
        return "the bot to exit; its log: " + (log.read_text(errors="replace")[-3000:] if log.exists() else "")

    def runs(self) -> list[Any]:
        return [r for r in self.fake.world.check_runs.values() if r.head_sha == self.sha and r.name in NAMES]

    def records(self) -> list[sqlite3.Row]:
        with sqlite3.connect(self.tmp_path / "bot.db") as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM validations WHERE head_sha = ?", (self.sha,)).fetchall()

    async def all_concluded(self) -> list[Any]:
        def done() -> list[Any]:
            runs = self.runs()
            finished = len(runs) >= len(NAMES) and all(r.status == "completed" for r in runs)
            return runs if finished and [r["state"] for r in self.records()] == ["done"] else []

        return await eventually(done, within=240, interval=0.5, what=lambda: f"every check run concluded and the "
                                f"validation done: {[(r.name, r.status) for r in self.runs()]}, "
                                f"{[r['state'] for r in self.records()]}; {self.log_tail()}")


def assert_one_concluded_set(bot: CrashedBot) -> None:
    runs = bot.runs()
    assert Counter(r.name for r in runs) == Counter(NAMES), "a check run was created twice (or never)"
    assert all(r.status == "completed" and r.conclusion for r in runs)
    created = [c for c in bot.fake.calls("checks/create") if c.json["name"] in NAMES]
    assert len(created) == len(NAMES)
    (record,) = bot.records()
    assert record["state"] == "done" and json.loads(record["check_runs"])
    conclusions = {r.name: r.conclusion for r in runs}
    assert conclusions == {"codegen/analysis": "failure", "codegen/build": "success", "codegen/test": "success",
                           "codegen/deploy": "success", "codegen/web-eval": "skipped"}
    (analysis,) = [r for r in runs if r.name == "codegen/analysis"]
    assert [(a.path, a.start_line) for a in analysis.annotations] == [("broken.py", 1)], "annotations sent twice"


async def crash_and_recover(bot: CrashedBot, point: str, check_at_crash: Any) -> None:
    bot.start(crash_at=point)
    try:
        assert await bot.deliver() == 202
        assert await bot.died() == EXIT_CODE
        check_at_crash()
        bot.start()
        assert await bot.deliver() == 202  # GitHub's redelivery: the store has the id, answered `duplicate`
        await bot.all_concluded()
    finally:
        bot.stop()
    assert_one_concluded_set(bot)


async def test_a_crash_between_storing_a_validation_and_queueing_its_job(
    fake_github: FakeGitHub, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    bot = CrashedBot(fake_github, tmp_path)

    def at_crash() -> None:
        (record,) = bot.records()
        assert record["state"] == "queued" and json.loads(record["check_runs"]) == {}  # ids not stored
        assert {r.name for r in bot.runs()} == NAMES  # but the check runs exist on GitHub
        with sqlite3.connect(tmp_path / "bot.db") as conn:
            assert conn.execute("SELECT count(*) FROM jobs WHERE kind = 'validation'").fetchone()[0] == 0

    await crash_and_recover(bot, "validation.store.after", at_crash)
    assert fake_github.calls("checks/list-for-ref"), "the check runs were adopted without being looked for"


async def test_a_crash_after_a_stage_reported_does_not_report_it_again(
    fake_github: FakeGitHub, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    bot = CrashedBot(fake_github, tmp_path)

    def at_crash() -> None:
        (analysis,) = [r for r in bot.runs() if r.name == "codegen/analysis"]
        assert analysis.status == "completed" and len(analysis.annotations) == 1
        (record,) = bot.records()
        # the store knows the conclusion was being sent, not that GitHub has it: only GitHub can say
        assert record["state"] == "running" and json.loads(record["reported"])["analysis"] == "sending"

    await crash_and_recover(bot, "validation.stage.after", at_crash)
    (analysis,) = [r for r in bot.runs() if r.name == "codegen/analysis"]
    updates = [c for c in fake_github.calls("checks/update") if c.path_params["check_run_id"] == str(analysis.id)]
    assert len(updates) == 1, "the analysis check run was reported again after the restart"


async def test_a_crash_after_the_first_github_write_keeps_one_config_check_run(
    fake_github: FakeGitHub, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The first handling of `opened` creates `codegen/config` without looking (one request saved per PR);
    the handling after a crash is attempt 2 and must look first."""
    bot = CrashedBot(fake_github, tmp_path)
    seen: list[str] = []

    def at_crash() -> None:
        seen.extend(r.name for r in fake_github.world.check_runs.values() if r.head_sha == bot.sha)
        assert "codegen/config" in seen  # the crash came right after its creation

    await crash_and_recover(bot, "github.write.after:codegen/config", at_crash)
    config = [r for r in fake_github.world.check_runs.values() if r.head_sha == bot.sha and r.name == "codegen/config"]
    assert len(config) == 1 and config[0].conclusion == "success", f"check runs at the crash: {seen}"
