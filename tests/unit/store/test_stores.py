"""Every store module against the real store, once per backend (SQLite and PostgreSQL): deliveries,
installations, agent runs, pull-request (merge) state and ok-to-test approvals."""

from __future__ import annotations

import time

from bot.dispatch.jobs import JobQueue
from bot.store.agent_runs import AgentRunStore
from bot.store.db import Database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.delivery_body import unpack
from bot.store.installations import InstallationStore, RepoGrant
from bot.store.pull_requests import PullRequestStore
from bot.store.validations import ValidationStore

#: GitHub's ids pass 2^31 (comments, check runs): the store keeps them whole
BIG = 2**40 + 7


def delivery(id: str, body: bytes = b'{"a": 1}', received_at: float | None = None) -> IncomingDelivery:
    return IncomingDelivery(id, "issues", "opened", BIG, body, received_at or time.time())


async def test_deliveries_are_stored_once_handled_retried_and_replayed(database: Database) -> None:
    store = DeliveryStore(database)
    assert await store.record(delivery("d1", received_at=1.0))
    assert not await store.record(delivery("d1"))  # a redelivery keeps its id
    assert not await store.record(delivery("d2"))  # the same signed body under another id: a replay
    assert await DeliveryStore(database, replay_check=False).record(delivery("d3", b"{}", received_at=2.0))
    assert await store.due(10, exclude=set()) == ["d1", "d3"]
    assert await store.due(10, exclude={"d1"}) == ["d3"]
    loaded = await store.load("d1")
    assert loaded is not None and loaded.body == b'{"a": 1}' and loaded.done_callbacks == frozenset()
    await store.start_attempt("d1")
    await store.callback_done("d1", "b")
    await store.callback_done("d1", "a")
    loaded = await store.load("d1")
    assert loaded is not None and loaded.attempts == 1 and loaded.done_callbacks == {"a", "b"}
    assert await store.finish("d1", [], 1) == "handled"
    assert await store.load("d1") is None
    body = await database.read(lambda c: c.execute("SELECT body FROM deliveries WHERE id = 'd1'").fetchone()[0])
    assert bytes(body) == b""  # a handled delivery's body is dropped
    assert await store.finish("d3", ["boom"], 1) == "pending"
    assert await store.due(10, exclude=set()) == []  # its retry is not due yet
    assert await store.finish("d3", ["boom"], 3) == "failed"
    assert await store.pending_count() == 0
    assert [(d.id, d.state, d.installation_id) for d in await store.recent(5)] == [
        ("d3", "failed", BIG), ("d1", "handled", BIG)]  # the newest first
    assert [d.id for d in await store.recent(5, state="failed")] == ["d3"]
    assert await store.replay("d3") and not await store.replay("d3")
    replayed = await store.load("d3")
    assert replayed is not None and unpack(await database.read(lambda c: bytes(c.execute(
        "SELECT body FROM deliveries WHERE id = 'd3'").fetchone()[0]))) == b"{}"
    assert await store.held(["d1", "d3", "zz"]) == {"d1", "d3"}


async def test_installations_their_repositories_and_flags(database: Database) -> None:
    store = InstallationStore(database)
    await store.upsert(BIG, "Octo-Org", "Organization")
    await store.add_repos(BIG, [RepoGrant("octo-org/a", BIG + 1, True), RepoGrant("octo-org/b", None, None)])
    await store.add_repos(BIG, [RepoGrant("octo-org/a", BIG + 1, False)])  # told again: updated in place
    assert await store.installation_for("octo-org/a") == BIG
    assert await store.for_account("octo-ORG") == BIG
    got = await store.get(BIG)
    assert got is not None and got["repositories"] == ["octo-org/a", "octo-org/b"] and got["suspended"] == 0
    await store.set_flags(BIG, suspended=True)
    got = await store.get(BIG)
    assert got is not None and got["suspended"] == 1
    await store.remove_repos(BIG, ["octo-org/b"])
    assert await store.installation_for("octo-org/b") is None
    await store.set_flags(BIG, deleted=True)
    assert await store.installation_for("octo-org/a") is None and await store.for_account("octo-org") is None
    await store.upsert(BIG, "octo-org", "Organization")  # installed again
    assert await store.for_account("octo-org") == BIG


async def new_run(runs: AgentRunStore, key: str | None, number: int = 5) -> tuple[int, bool]:
    record, created = await runs.create_once(
        repo="o/r", number=number, thread_kind="issue", installation_id=BIG, command="fix it", requested_by="ana",
        command_comment_id=BIG, command_key=key)
    return record.id, created


async def test_agent_runs_are_recorded_once_per_command_and_followed(database: Database) -> None:
    runs, queue = AgentRunStore(database), JobQueue(database)
    first, created = await new_run(runs, "c1:0")
    again, created_again = await new_run(runs, "c1:0")
    other, _ = await new_run(runs, None)
    assert created and not created_again and again == first and other != first
    updated = await runs.update(first, progressed=True, status="running", status_comment_id=BIG + 1,
                                linked_prs=[{"number": 9}])
    assert updated.status_comment_id == BIG + 1 and updated.linked_prs == [{"number": 9}] and updated.active
    await runs.link_pr(first, "o/r", 9)
    await runs.link_pr(first, "o/r", 9)  # linked once
    linked = await runs.run_for_pr("o/r", 9)
    assert linked is not None and linked.id == first
    assert await runs.claim_create(first) is None
    assert isinstance(await runs.claim_create(first), float)
    for_command = await runs.for_command("o/r", "c1:0")
    assert for_command is not None and for_command.id == first
    assert [r.id for r in await runs.conversation_runs("o/r", 5)] == [first, other]
    assert [r.id for r in await runs.active_runs()] == [first, other]
    await queue.enqueue("agent_run.poll", {"run_id": first}, key=f"agent_run.poll:{first}")
    prefixes = ["agent_run.poll:", "agent_run.start:"]
    assert [r.id for r in await runs.unfollowed(prefixes, before=time.time() + 1)] == [other]
    assert await runs.live_job_keys(first, prefixes) == {f"agent_run.poll:{first}"}
    await runs.update(other, status="finished")
    assert await runs.count_by_status() == {"running": 1, "finished": 1}
    assert [r.id for r in await runs.recent(["o/r"], limit=1)] == [other]


async def test_merge_state_per_pull_request(database: Database) -> None:
    prs = PullRequestStore(database)
    assert (await prs.get("o/r", 1)).merge_requested_by is None
    assert not await prs.merge_asked_in("o/r")
    await prs.set("o/r", 1, merge_requested_by="ana", merge_requested_sha="a" * 40, notice_comment_id=BIG)
    await prs.set("o/r", 1, needs_human=True)
    state = await prs.get("o/r", 1)
    assert (state.merge_requested_by, state.notice_comment_id, state.needs_human) == ("ana", BIG, True)
    assert await prs.merge_asked_in("o/r")
    await prs.set("o/r", 3, train_ready_at=20.0, train_base="main")
    await prs.set("o/r", 2, train_ready_at=10.0, train_base="main")
    await prs.set("o/r", 4, train_ready_at=5.0, train_base="release")
    assert await prs.train_line("o/r", "main") == [2, 3]
    assert [p.pr_number for p in await prs.merging("o/r")] == [1, 2, 3, 4]
    await prs.set("o/r", 1, merged_sha="a" * 40)
    assert not await prs.merge_asked_in("o/r")
    assert [await prs.take_fix_attempt("o/r", 7, limit=2) for _ in range(3)] == [1, 2, None]


async def test_ok_to_test_approvals_keep_the_latest_approver(database: Database) -> None:
    validations = ValidationStore(database)
    assert await validations.approved_by("o/r", "a" * 40) is None
    await validations.approve("o/r", "a" * 40, "ana")
    await validations.approve("o/r", "a" * 40, "bob")
    assert await validations.approved_by("o/r", "a" * 40) == "bob"
    record = await validations.create(repo="o/r", pr_number=1, head_sha="a" * 40, head_ref="f", clone_url=None,
                                      installation_id=BIG, state="held", trigger="pull_request")
    done = await validations.update(record.id, state="done", passed=True, report={"ok": True})
    assert done.passed is True and done.report == {"ok": True} and done.installation_id == BIG
    assert [v.id for v in await validations.recent(["o/r"])] == [record.id]
    assert await validations.first_seen("o/r", "a" * 40) == record.created_at
