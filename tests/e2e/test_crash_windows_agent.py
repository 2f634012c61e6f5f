"""Crash windows of a `/codegen <request>` command: the bot is killed (`os._exit`, as a SIGKILL) at a named
point, started again on the same store, and the command's effects exist exactly once.

`codegen-bot serve` runs as a real process on a SQLite file, against the fake GitHub and the fake Codegen
(both contract-checked). After the restart the stored delivery is handled again at start-up (it was never
fully handled) and GitHub's redelivery of the same delivery id is answered `duplicate`.

Windows:
- `github.write.after@2`: the status comment was posted (the first write is the 👀 reaction) and the bot
  died before recording its id;
- `codegen.create.after`: Codegen created the run and the bot died before recording the run's id.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

from bot.runtime.faults import ENV, EXIT_CODE
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event
from tests.support.serve_process import free_port, serve, wait_healthy
from tests.support.webhooks import headers_for

REPO = "octo-org/app"
DELIVERY = "crash-window-delivery-1"
CREATE = "create_agent_run_v1_organizations__org_id__agent_run_post"
RESULT = "Added the thing in app.py."


class Scene:
    """The issue, the command's delivery, the bot's process and what the store and the fakes hold."""

    def __init__(self, fake_github: FakeGitHub, fake_codegen: FakeCodegen, tmp_path: Path) -> None:
        self.github, self.codegen, self.tmp_path = fake_github, fake_codegen, tmp_path
        inst = fake_github.add_installation("octo-org", [REPO])
        fake_github.set_permission(REPO, "maintainer", "write")
        self.number = fake_github.add_issue(REPO, title="We need a thing", body="A thing is missing.").number
        event = issue_comment_event(fake_github, REPO, self.number, inst.id, "/codegen add a thing",
                                    user="maintainer")
        self.comment_id = int(event["comment"]["id"])
        self.body = json.dumps(event).encode()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        fake_codegen.script("add a thing", [{"status": "ACTIVE"}, {"status": "COMPLETE", "result": RESULT}])

    def start(self, crash_at: str | None = None) -> subprocess.Popen[bytes]:
        env = {"CODEGEN_API_URL": self.codegen.url, "CODEGEN_API_TOKEN": self.codegen.token,
               "CODEGEN_ORG_ID": str(self.codegen.org_id), "AGENT_POLL_SECONDS": "0.05", "LOG_LEVEL": "INFO"}
        if crash_at is not None:
            env[ENV] = crash_at
        return serve(self.tmp_path, self.github, self.port, extra_env=env)

    async def deliver(self) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, self.url)
            async with session.post(f"{self.url}/webhook", data=self.body,
                                    headers=headers_for("issue_comment", self.body, WEBHOOK_SECRET, DELIVERY)) as r:
                return r.status, await r.text()

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.tmp_path / "bot.db") as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql).fetchall()]

    def runs(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM agent_runs")

    def status_comments(self) -> list[Any]:
        return [c for c in self.github.world.comments.values()
                if c.repo == REPO and c.issue_number == self.number and "<!-- codegen-bot:run:" in c.body]

    def log(self) -> str:
        return (self.tmp_path / f"serve-{self.port}.log").read_text(errors="replace")


async def crash(scene: Scene, crash_at: str) -> None:
    """Deliver the command to a bot armed to die at `crash_at`, and see it die there."""
    proc = scene.start(crash_at)
    try:
        status, _ = await scene.deliver()
        assert status == 202
        # the fakes answer on this event loop: wait without blocking it
        await eventually(lambda: proc.poll() is not None, within=20, what="the bot to die at the crash point")
        assert proc.returncode == EXIT_CODE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert f"crash point {crash_at.split('@')[0]} reached" in scene.log()


async def recover(scene: Scene) -> subprocess.Popen[bytes]:
    """Start the bot again, unarmed, on the same store; GitHub redelivers the same delivery id."""
    proc = scene.start()
    status, text = await scene.deliver()
    assert status == 202 and "duplicate" in text, text
    return proc


async def followed_to_its_end(scene: Scene) -> dict[str, Any]:
    await eventually(lambda: [r["status"] for r in scene.runs()] == ["finished"], within=30, interval=0.1,
                     what=lambda: f"the run to finish: {scene.runs()}\n{scene.log()[-3000:]}")
    await eventually(lambda: all(RESULT in c.body for c in scene.status_comments()), within=10,
                     what="the status comment to show the answer")
    (run,) = scene.runs()
    return run


def assert_exactly_once(scene: Scene, run: dict[str, Any]) -> None:
    assert len(scene.codegen.calls(CREATE)) == 1, "Codegen was asked for a second run"
    assert list(scene.codegen.runs) == [run["codegen_run_id"]]
    assert scene.codegen.runs[run["codegen_run_id"]].metadata["codegen_bot"]["run_id"] == run["id"]
    (comment,) = scene.status_comments()
    assert comment.user == f"{scene.github.app_slug}[bot]"
    assert run["status_comment_id"] == comment.id and f"<!-- codegen-bot:run:{run['id']} -->" in comment.body
    assert len(scene.github.calls("issues/create-comment")) == 1
    assert run["command_comment_id"] == scene.comment_id
    reactions = [r.content for r in scene.github.world.comments[scene.comment_id].reactions]
    assert reactions == ["eyes"]
    (delivery,) = scene.rows("SELECT state, handled_count FROM deliveries")
    assert delivery == {"state": "handled", "handled_count": 1}


async def test_killed_after_the_status_comment_was_posted_keeps_one_comment_and_one_run(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, tmp_path: Path
) -> None:
    scene = Scene(fake_github, fake_codegen, tmp_path)
    await crash(scene, "github.write.after@2")
    # the window: GitHub has the status comment, the store does not know its id, nothing was created
    (posted,) = scene.status_comments()
    (record,) = scene.runs()
    assert record["status_comment_id"] is None and record["status"] == "queued"
    assert f"<!-- codegen-bot:run:{record['id']} -->" in posted.body and not scene.codegen.runs
    proc = await recover(scene)
    try:
        run = await followed_to_its_end(scene)
        assert_exactly_once(scene, run)
        assert run["status_comment_id"] == posted.id  # the comment posted before the crash was adopted
    finally:
        proc.kill()
        proc.wait(10)


async def test_killed_after_codegen_created_the_run_finds_it_instead_of_creating_another(
    fake_github: FakeGitHub, fake_codegen: FakeCodegen, tmp_path: Path
) -> None:
    scene = Scene(fake_github, fake_codegen, tmp_path)
    await crash(scene, "codegen.create.after")
    # the window: Codegen has the run, the store does not know it
    (record,) = scene.runs()
    assert record["codegen_run_id"] is None and record["status"] == "queued" and record["create_sent_at"]
    assert len(scene.codegen.runs) == 1
    proc = await recover(scene)
    try:
        run = await followed_to_its_end(scene)
        assert_exactly_once(scene, run)
        assert "already created on Codegen" in scene.log()
    finally:
        proc.kill()
        proc.wait(10)
