"""Agent runs after crashes, in process (the real bot on loopback, fake GitHub and fake Codegen):

- a status comment that exists on GitHub but not in the store is found by its marker, across pages, and
  adopted (never a second comment; never someone else's comment that quotes the marker);
- two tasks showing one run at once (a redelivered command and the start job the reconciler queued again)
  post one status comment between them, not two;
- a command handled again (its delivery re-run, as after a crash before it was recorded) starts no second
  run and posts no second reply;
- the reconciler's task `agent_runs.unfollowed` gives active runs with no job their job again at start-up,
  and leaves alone a run changed moments ago by this process;
- a resume queued and then interrupted before the run was marked running is sent at start-up all the same;
- a job that used up its attempts fails its run with a clear error in its status comment, and its log lines
  carry the id of the delivery that caused it;
- `/metrics` shows jobs queued per kind, job failures, agent runs per status, reconciler repairs,
  redelivered deliveries and the delivery lag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from bot.runtime.logs import JsonFormatter
from bot.store.agent_runs import AgentRunRecord
from bot.store.delivery_body import pack
from handlers.agent.job_keys import POLL, RESUME, resume_key
from handlers.agent.texts import marker
from tests.fakes.codegen import FakeCodegen, FakeRun
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event

REPO = "octo-org/app"
CREATE = "create_agent_run_v1_organizations__org_id__agent_run_post"
RESUME_OP = "resume_agent_run_v1_organizations__org_id__agent_run_resume_post"
StartBot = Callable[..., Awaitable[RunningBot]]


class Issue:
    def __init__(self, fake: FakeGitHub, codegen: FakeCodegen, start_bot: StartBot, tmp_path: Path) -> None:
        self.fake, self.codegen, self.start_bot, self.tmp_path = fake, codegen, start_bot, tmp_path
        self.installation_id = fake.add_installation("octo-org", [REPO]).id
        fake.set_permission(REPO, "maintainer", "write")
        self.number = fake.add_issue(REPO, title="A thing is missing", body="Add it.").number
        self.bot: RunningBot | None = None

    async def start(self) -> RunningBot:
        self.bot = await self.start_bot(codegen_api_url=self.codegen.url, codegen_api_token=self.codegen.token,
                                        codegen_org_id=self.codegen.org_id, agent_poll_seconds=0.02)
        return self.bot

    @property
    def services(self) -> Any:
        assert self.bot is not None
        return self.bot.server.services

    def event(self, body: str) -> dict[str, Any]:
        return issue_comment_event(self.fake, REPO, self.number, self.installation_id, body, user="maintainer")

    async def deliver(self, event: dict[str, Any], delivery_id: str) -> None:
        assert self.bot is not None
        status, _ = await self.bot.deliver("issue_comment", event, delivery_id=delivery_id)
        assert status == 202
        await self.bot.drain()

    async def runs(self) -> list[AgentRunRecord]:
        return list(await self.services.agent_runs.conversation_runs(REPO, self.number))

    async def wait_for(self, statuses: list[str]) -> list[AgentRunRecord]:
        async def reached() -> bool:
            return [r.status for r in await self.runs()] == statuses

        await eventually(reached, within=20, interval=0.02, what=lambda: f"runs {statuses}")
        assert self.bot is not None
        await self.bot.drain()
        return await self.runs()

    def bot_comments(self) -> list[Any]:
        return [c for c in self.fake.world.comments.values()
                if c.repo == REPO and c.issue_number == self.number and c.user == f"{self.fake.app_slug}[bot]"]

    async def record(self, **fields: Any) -> AgentRunRecord:
        """An agent run recorded straight in the store (the state a crash left), not from a command."""
        record: AgentRunRecord = await self.services.agent_runs.create(
            repo=REPO, number=self.number, thread_kind="issue", installation_id=self.installation_id,
            command=fields.pop("command", "add a thing"), requested_by="maintainer",
            command_comment_id=fields.pop("command_comment_id", None), command_key=fields.pop("command_key", None),
        )
        if fields:
            record = await self.services.agent_runs.update(record.id, **fields)
        return record

    async def sql(self, statement: str, *args: Any) -> None:
        assert self.bot is not None and self.bot.server.db is not None
        await self.bot.server.db.write(lambda conn: conn.execute(statement, args))

    async def metrics(self) -> str:
        assert self.bot is not None
        async with self.bot.session.get(f"{self.bot.url}/metrics") as resp:
            assert resp.status == 200
            return await resp.text()


@pytest_asyncio.fixture
async def issue(fake_github: FakeGitHub, fake_codegen: FakeCodegen, start_bot: StartBot, tmp_path: Path) -> Issue:
    return Issue(fake_github, fake_codegen, start_bot, tmp_path)


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (AssertionError when the series is missing)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text, re.MULTILINE)
    assert found, f"no sample {name}{{{wanted}}} in /metrics"
    return float(found.group(1))


async def test_a_status_comment_missing_from_the_store_is_found_across_pages_and_adopted(issue: Issue) -> None:
    await issue.start()
    issue.codegen.script("add a thing", [{"status": "COMPLETE", "result": "Added."}])
    event = issue.event("/codegen add a thing")
    comment_id = int(event["comment"]["id"])
    record = await issue.record(command_comment_id=comment_id, command_key=f"issue_comment:{comment_id}:0")
    bot = f"{issue.fake.app_slug}[bot]"
    posted = issue.fake.add_comment(REPO, issue.number, f"{marker(record.id)}\n**Codegen agent run** — ⏳ queued",
                                    user=bot)
    quoting = issue.fake.add_comment(REPO, issue.number, f"why does it say {marker(record.id)}?", user="maintainer")
    other_run = issue.fake.add_comment(REPO, issue.number, f"{marker(record.id + 1)}\nanother run", user=bot)
    for i in range(150):  # the status comment ends up on the first of two pages
        issue.fake.add_comment(REPO, issue.number, f"chatter {i}", user="maintainer")

    await issue.deliver(event, "adopt-1")
    (run,) = await issue.wait_for(["finished"])
    assert run.id == record.id and run.status_comment_id == posted.id
    assert "Added." in posted.body
    assert issue.fake.calls("issues/create-comment") == []
    assert quoting.body.startswith("why does it say") and other_run.body.endswith("another run")
    pages = [r.query.get("page") for r in issue.fake.requests if r.operation_id == "issues/list-comments"]
    assert pages[:2] == ["1", "2"]  # the first page (full), then the last (the issue's count says which)
    assert len(issue.codegen.calls(CREATE)) == 1


async def test_two_tasks_showing_a_run_without_a_comment_at_once_post_one_status_comment(issue: Issue) -> None:
    await issue.start()
    record = await issue.record()  # a crash came between recording the run and posting its status comment

    shown = await asyncio.gather(*(issue.services.agent.render(record) for _ in range(3)))

    (status,) = [c for c in issue.bot_comments() if marker(record.id) in c.body]
    assert {r.status_comment_id for r in shown} == {status.id}
    assert len(issue.fake.calls("issues/create-comment")) == 1
    stored = await issue.services.agent_runs.get(record.id)
    assert stored is not None and stored.status_comment_id == status.id


async def test_a_command_handled_again_starts_no_second_run_and_posts_no_second_reply(issue: Issue) -> None:
    await issue.start()
    issue.codegen.script("add a thing", [{"status": "COMPLETE", "result": "Added."}])
    event = issue.event("/codegen help\n/codegen add a thing")
    await issue.deliver(event, "again-1")
    await issue.wait_for(["finished"])
    assert len(issue.bot_comments()) == 2  # the help reply and the status comment
    # as if the process had died before the delivery was recorded: it is handled again, callbacks and all
    await issue.sql(
        "UPDATE deliveries SET state = 'pending', attempts = 1, done_callbacks = '[]', next_attempt_at = 0,"
        " body = ? WHERE id = ?", pack(json.dumps(event).encode()), "again-1",
    )
    assert issue.bot is not None
    await issue.bot.drain()
    await eventually(lambda: _handled(issue.tmp_path, "again-1"), what="the delivery to be handled again")
    (run,) = await issue.wait_for(["finished"])
    assert run.command_key == f"issue_comment:{event['comment']['id']}:1"  # the second command of the text
    assert len(issue.codegen.calls(CREATE)) == 1
    comments = issue.bot_comments()
    assert len(comments) == 2, [c.body for c in comments]
    assert len(issue.fake.calls("issues/create-comment")) == 2
    assert any("What you can ask me here" in c.body for c in comments)


def _handled(tmp_path: Path, delivery_id: str) -> bool:
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        row = conn.execute("SELECT state, handled_count FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
    return tuple(row) == ("handled", 2)


async def test_the_reconciler_gives_runs_left_without_a_job_their_job_at_start_up(issue: Issue) -> None:
    bot = await issue.start()
    issue.codegen.script("never started", [{"status": "COMPLETE", "result": "Started at last."}])
    queued = await issue.record(command="never started")
    existing = FakeRun(9001, issue.codegen.org_id, "never polled", {"codegen_bot": {"run_id": 0}},
                       [{"status": "COMPLETE", "result": "Polled at last."}])
    issue.codegen.runs[existing.id] = existing
    running = await issue.record(command="never polled", status="running", codegen_run_id=existing.id,
                                 codegen_org_id=issue.codegen.org_id, codegen_status="ACTIVE")
    await bot.stop()
    await issue.start()  # the start-up pass of the reconciler follows both

    runs = {r.id: r for r in await issue.wait_for(["finished", "finished"])}
    assert runs[queued.id].result == "Started at last." and runs[running.id].result == "Polled at last."
    assert len(issue.codegen.calls(CREATE)) == 1 and runs[running.id].codegen_run_id == existing.id
    assert len(issue.bot_comments()) == 2
    text = await issue.metrics()
    assert sample(text, "codegen_bot_reconciler_repairs_total", task="agent_runs.unfollowed") == 2
    assert sample(text, "codegen_bot_agent_runs", status="finished") == 2
    assert sample(text, "codegen_bot_agent_runs", status="running") == 0


async def test_a_run_just_changed_is_left_alone_until_it_is_old_enough(issue: Issue) -> None:
    await issue.start()
    issue.codegen.script("late", [{"status": "COMPLETE", "result": "Late but done."}])
    record = await issue.record(command="late")
    assert await issue.services.agent.reconcile_unfollowed() == 0  # its handler may be about to queue its job
    await issue.sql("UPDATE agent_runs SET updated_at = 0 WHERE id = ?", record.id)
    assert await issue.services.agent.reconcile_unfollowed() == 1
    assert await issue.services.agent.reconcile_unfollowed() == 0  # its start is queued now
    (run,) = await issue.wait_for(["finished"])
    assert run.result == "Late but done."


async def test_a_resume_queued_before_a_crash_is_sent_though_the_run_still_shows_finished(issue: Issue) -> None:
    bot = await issue.start()
    done = FakeRun(9101, issue.codegen.org_id, "add a thing", {"codegen_bot": {"run_id": 0}},
                   [{"status": "COMPLETE", "result": "First answer."}])
    issue.codegen.runs[done.id] = done
    issue.codegen.script_resume(done.id, [{"status": "COMPLETE", "result": "Second answer."}])
    record = await issue.record(status="finished", codegen_run_id=done.id, codegen_org_id=issue.codegen.org_id,
                                codegen_status="COMPLETE", result="First answer.")
    # `resume` queued its job, and the process died before the record said `running`
    await bot.stop()
    payload = json.dumps({"run_id": record.id, "prompt": "continue: and more", "requested_by": "maintainer"})
    with sqlite3.connect(issue.tmp_path / "bot.db") as conn:
        conn.execute("INSERT INTO jobs (kind, key, payload, state, run_at, created_at) VALUES (?, ?, ?, 'queued',"
                     " 0, 0)", (RESUME, resume_key(record.id), payload))
    await issue.start()

    async def answered() -> bool:
        run = await issue.services.agent_runs.get(record.id)
        return run is not None and run.result == "Second answer." and run.status == "finished"

    await eventually(answered, within=20, interval=0.02, what="the resumed run's second answer")
    (sent,) = issue.codegen.calls(RESUME_OP)
    assert "and more" in json.dumps(sent.body)


@pytest.fixture
def json_log() -> Iterator[list[dict[str, Any]]]:
    """Every log line as the bot writes it (formatted when emitted, in the emitting task's context)."""
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(orjson.loads(JsonFormatter().format(record)))

    handler = Keep(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        yield lines
    finally:
        logging.getLogger().removeHandler(handler)


async def test_a_job_that_used_up_its_attempts_fails_its_run_and_logs_its_delivery(
    issue: Issue, json_log: list[dict[str, Any]]
) -> None:
    await issue.start()
    issue.codegen.script("unreachable", [{"status": "ACTIVE"}])
    # every poll is refused (the run "disappeared"): the poll job fails each time
    issue.codegen.fail_next("GET", "/v1/organizations/*/agent/run/*", 404, times=1000)
    await issue.deliver(issue.event("/codegen unreachable run"), "exhaust-1")

    async def failed_once() -> bool:
        rows = await _rows(issue, "SELECT * FROM jobs WHERE kind = ? AND error IS NOT NULL AND state = 'queued'", POLL)
        return bool(rows)

    await eventually(failed_once, within=20, what="the poll job to fail once")
    # as if it had failed nine times: the next failure is its last (agent_run.poll has 10 attempts)
    await issue.sql("UPDATE jobs SET attempts = 9, run_at = 0 WHERE kind = ? AND state = 'queued'", POLL)
    (run,) = await issue.wait_for(["failed"])
    assert run.error is not None and "Interrupted" in run.error and "10 times" in run.error
    (status,) = [c for c in issue.bot_comments() if marker(run.id) in c.body]
    assert "The agent run failed" in status.body and "Interrupted" in status.body

    (job,) = await _rows(issue, "SELECT state, delivery_id FROM jobs WHERE kind = ?", POLL)
    assert job == {"state": "failed", "delivery_id": "exhaust-1"}
    failures = [line for line in json_log if line["msg"].startswith(f"job {POLL}")]
    assert failures and all(line.get("delivery_id") == "exhaust-1" for line in failures)

    text = await issue.metrics()
    assert sample(text, "codegen_bot_job_failures_total", kind=POLL) == 2
    assert sample(text, "codegen_bot_agent_runs", status="failed") == 1
    assert sample(text, "codegen_bot_jobs_queued", kind=POLL) == 0
    assert sample(text, "codegen_bot_jobs_queued", kind="reconcile") == 1  # the next pass, due later
    assert sample(text, "codegen_bot_deliveries_redelivered_total") == 0
    assert sample(text, "codegen_bot_delivery_lag_seconds_count") == 1


async def _rows(issue: Issue, sql: str, *args: Any) -> list[dict[str, Any]]:
    assert issue.bot is not None and issue.bot.server.db is not None

    def work(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]

    return await issue.bot.server.db.read(work)
