"""The real bot with DATABASE_URL=postgresql://...: a delivery is committed to PostgreSQL before its 202, its
redelivery is a duplicate, and a `/codegen` command runs its agent run through the job queue to the end."""

from __future__ import annotations

import psycopg

from tests.e2e.test_agent_commands import REPO, StartBot, Thread, codegen_settings
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.payloads import issue_comment_event


async def test_the_bot_runs_on_postgresql(postgres_url: str, fake_github: FakeGitHub, fake_codegen: FakeCodegen,
                                          start_bot: StartBot) -> None:
    # postgres_url first: its database is dropped after the bot stopped
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    number = fake_github.add_issue(REPO, title="Uploads are not rate limited", body="Anyone can flood /upload.").number
    bot = await start_bot(database_url=postgres_url, **codegen_settings(fake_codegen))
    assert bot.server.db is not None and bot.server.db.dialect == "postgresql"
    fake_codegen.script("rate limiting", [{"status": "ACTIVE"}, {"status": "COMPLETE", "result": "Done: see app.py."}])
    issue = Thread(fake_github, bot, inst.id, number)

    event = issue_comment_event(fake_github, REPO, number, inst.id, "/codegen add rate limiting", user="maintainer")
    status, _ = await bot.deliver("issue_comment", event, delivery_id="pg-1")
    assert status == 202
    with psycopg.connect(postgres_url) as conn:  # committed before the 202, seen by another connection
        assert conn.execute("SELECT event FROM deliveries WHERE id = 'pg-1'").fetchone() == ("issue_comment",)
    again, body = await bot.deliver("issue_comment", event, delivery_id="pg-1")
    assert (again, body["status"]) == (202, "duplicate")

    run = await issue.wait_for("finished")
    assert run.answer_kind == "regular" and len(issue.bot_comments()) == 1
    with psycopg.connect(postgres_url) as conn:
        handled = conn.execute("SELECT state, handled_count FROM deliveries WHERE id = 'pg-1'").fetchone()
        assert handled == ("handled", 1)
        assert conn.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()[0] >= 1
    assert await bot.server.db.reachable()
