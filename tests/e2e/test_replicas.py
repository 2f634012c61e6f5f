"""Two `codegen-bot serve` replicas on one PostgreSQL store, as real processes against the fake GitHub.

- Under a load of deliveries sent to both, one replica is killed with SIGKILL: every acknowledged delivery is
  handled exactly once (the store says `handled` once; the fake GitHub holds one reply per `/codegen help`),
  both replicas handled deliveries, and each issue's replies were posted in the order its commands arrived.
- A job claimed by a replica that dies (a crash point right after Codegen created the run) is finished by the
  other replica once its lease (`JOB_LEASE_SECONDS`) lapsed, and the run is created once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from bot.runtime.faults import ENV, EXIT_CODE
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.payloads import issue_comment_event
from tests.support.serve_process import free_port, serve, wait_healthy
from tests.support.webhooks import headers_for, payload

REPO = "octo-org/app"
TOTAL = 240
#: replica a is killed once it acknowledged this many
KILL_AFTER_ACKS = 50
LEASE = "5"
CREATE = "create_agent_run_v1_organizations__org_id__agent_run_post"
MARKER = re.compile(r"codegen-bot:reply:[a-z_]+:(\d+):")


class Replica:
    def __init__(self, tmp_path: Path, fake: FakeGitHub, database_url: str, name: str, **env: str) -> None:
        self.name, self.port = name, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] = serve(tmp_path, fake, self.port, extra_env={
            "DATABASE_URL": database_url, "REPLICA_ID": name, "JOB_LEASE_SECONDS": LEASE,
            "WORKER_RATE_UNDER_LOAD": "0", **env})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query).fetchall())  # type: ignore[arg-type]


def load(fake: FakeGitHub, inst_id: int, issues: list[int]) -> list[tuple[str, str, bytes, int | None]]:
    """(delivery id, event, body, command comment id): every third a `/codegen help` on one of the issues."""
    out: list[tuple[str, str, bytes, int | None]] = []
    for i in range(TOTAL):
        if i % 3 == 0:
            event = issue_comment_event(fake, REPO, issues[(i // 3) % len(issues)], inst_id, "/codegen help",
                                        user="maintainer")
            out.append((f"load-{i}", "issue_comment", json.dumps(event).encode(), int(event["comment"]["id"])))
        else:
            data = payload("installation/created")
            data["installation"]["id"] = 20_000 + i
            data["installation"]["account"]["login"] = f"org-{i}"
            out.append((f"load-{i}", "installation", json.dumps(data).encode(), None))
    return out


def assert_answered_once_in_order(fake: FakeGitHub, work: list[tuple[str, str, bytes, int | None]], acked: set[str],
                                  stored: dict[str, tuple[Any, ...]], issues: list[int]) -> None:
    """One reply per acknowledged `/codegen help` in the fake GitHub, and each issue's in the order received."""
    # a delivery committed just before its replica died may be unacknowledged yet handled (GitHub's redelivery
    # of it would be answered `duplicate`): it is answered once too
    commands = {w[3]: w[0] for w in work if w[3] is not None and w[0] in stored}
    replies = [(c.issue_number, c.id, int(m.group(1))) for c in fake.world.comments.values()
               if c.repo == REPO and (m := MARKER.search(c.body))]
    per_command: dict[int, int] = {}
    for _issue, _id, command in replies:
        per_command[command] = per_command.get(command, 0) + 1
    assert set(per_command) == set(commands), "a stored command was not answered, or one never stored was"
    assert {c for c, d in commands.items() if d in acked} <= set(per_command)
    assert set(per_command.values()) == {1}, {c: n for c, n in per_command.items() if n != 1}
    for issue in issues:  # each issue's replies in the order its commands were received
        answered = [command for number, _id, command in sorted(replies, key=lambda r: r[1]) if number == issue]
        received = sorted(answered, key=lambda command: stored[commands[command]][3])
        assert answered == received, f"issue #{issue}: replies out of order"


def held(url: str, replica: Replica) -> list[str]:
    """The deliveries `replica` has claimed and not finished."""
    return [r[0] for r in rows(url, f"SELECT id FROM deliveries WHERE claimed_by = '{replica.name}'"
                                    " AND state = 'pending'")]


def assert_taken_over(stored: dict[str, tuple[Any, ...]], acked: set[str], in_flight: list[str]) -> None:
    assert in_flight, "the killed replica held no delivery"
    # what the dead replica held was handled once, by the other one, after its lease lapsed
    assert {stored[d][:3] for d in in_flight} == {("handled", 1, "replica-b")}
    handlers = {stored[d][2] for d in acked}
    assert handlers == {"replica-a", "replica-b"}, handlers  # both replicas handled deliveries


@pytest.mark.parametrize("intake_processes", ["0", "2"])
async def test_two_replicas_share_the_load_and_survive_a_sigkill(
        postgres_url: str, fake_github: FakeGitHub, tmp_path: Path, intake_processes: str) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    issues = [fake_github.add_issue(REPO, title=f"Issue {n}", body="...").number for n in range(4)]
    work = load(fake_github, inst.id, issues)
    a = Replica(tmp_path, fake_github, postgres_url, "replica-a", INTAKE_PROCESSES=intake_processes)
    b = Replica(tmp_path, fake_github, postgres_url, "replica-b", INTAKE_PROCESSES=intake_processes)
    acked: set[str] = set()
    acked_by_a = 0
    killed = asyncio.Event()
    in_flight: list[str] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
            await asyncio.gather(wait_healthy(session, a.url, 30), wait_healthy(session, b.url, 30))

            async def send(i: int) -> None:
                nonlocal acked_by_a
                delivery_id, event, body, _ = work[i]
                target = a if i % 2 == 0 else b
                try:
                    async with session.post(f"{target.url}/webhook", data=body,
                                            headers=headers_for(event, body, WEBHOOK_SECRET, delivery_id)) as resp:
                        if resp.status != 202:
                            return
                        acked.add(delivery_id)
                except (aiohttp.ClientError, ConnectionError):
                    return  # replica a died under this request: GitHub would count it as failed
                if target is a:
                    acked_by_a += 1
                    # killed while it holds a delivery it has not finished (what it claims it claims before
                    # handling); a dead replica changes nothing more, so what it held is read right after
                    if acked_by_a >= KILL_AFTER_ACKS and not killed.is_set() and held(postgres_url, a):
                        killed.set()
                        os.kill(a.proc.pid, signal.SIGKILL)
                        a.proc.wait(10)
                        in_flight.extend(held(postgres_url, a))

            await asyncio.gather(*(send(i) for i in range(TOTAL)))
        assert killed.is_set()
        a.proc.wait(10)
        assert a.proc.returncode == -signal.SIGKILL

        def settled() -> bool:
            return rows(postgres_url, "SELECT count(*) FROM deliveries WHERE state = 'pending'")[0][0] == 0

        await eventually(settled, within=60, interval=0.2, what="every delivery handled by the surviving replica")
        stored = {r[0]: r[1:] for r in rows(
            postgres_url, "SELECT id, state, handled_count, claimed_by, received_at, attempts FROM deliveries")}
    finally:
        a.stop()
        b.stop()
    assert TOTAL // 2 < len(acked) < TOTAL
    missing = acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged deliveries were lost"
    wrong = {d: row for d, row in stored.items() if row[:2] != ("handled", 1)}  # acknowledged or not: once
    assert not wrong, wrong
    assert_taken_over(stored, acked, in_flight)

    assert_answered_once_in_order(fake_github, work, acked, stored, issues)


async def test_a_job_of_a_dead_replica_is_finished_by_the_other_after_its_lease(
        postgres_url: str, fake_github: FakeGitHub, fake_codegen: FakeCodegen, tmp_path: Path) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    number = fake_github.add_issue(REPO, title="We need a thing", body="A thing is missing.").number
    fake_codegen.script("add a thing", [{"status": "ACTIVE"}, {"status": "COMPLETE", "result": "Added it."}])
    codegen = {"CODEGEN_API_URL": fake_codegen.url, "CODEGEN_API_TOKEN": fake_codegen.token,
               "CODEGEN_ORG_ID": str(fake_codegen.org_id), "AGENT_POLL_SECONDS": "0.05", "JOB_LEASE_SECONDS": "6"}
    event = issue_comment_event(fake_github, REPO, number, inst.id, "/codegen add a thing", user="maintainer")
    body = json.dumps(event).encode()
    a = Replica(tmp_path, fake_github, postgres_url, "replica-a", **codegen, **{ENV: "codegen.create.after"})
    b: Replica | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, a.url, 30)
            async with session.post(f"{a.url}/webhook", data=body,
                                    headers=headers_for("issue_comment", body, WEBHOOK_SECRET, "lease-1")) as resp:
                assert resp.status == 202
            await eventually(lambda: a.proc.poll() is not None, within=30, what="replica a to die at the crash point")
            assert a.proc.returncode == EXIT_CODE
            (job_id, claimed_by, lease_until), = rows(
                postgres_url, "SELECT id, claimed_by, lease_until FROM jobs WHERE state = 'running'")
            assert claimed_by == "replica-a"
            b = Replica(tmp_path, fake_github, postgres_url, "replica-b", **codegen)
            await wait_healthy(session, b.url, 30)
            if time.time() < lease_until - 0.5:  # b is up while a's lease holds: it does not take the job yet
                assert rows(postgres_url, f"SELECT claimed_by, state FROM jobs WHERE id = {job_id}") == [
                    ("replica-a", "running")]

        def finished() -> bool:
            return [r[0] for r in rows(postgres_url, "SELECT status FROM agent_runs")] == ["finished"]

        await eventually(finished, within=40, interval=0.2, what="the run to finish on replica b")
        (state, by, attempts, updated), = rows(
            postgres_url, f"SELECT state, claimed_by, attempts, updated_at FROM jobs WHERE id = {job_id}")
    finally:
        a.stop()
        if b is not None:
            b.stop()
    assert (state, by, attempts) == ("done", "replica-b", 2)
    assert updated >= lease_until  # taken over only once the lease lapsed
    assert len(fake_codegen.calls(CREATE)) == 1, "Codegen was asked for a second run"
