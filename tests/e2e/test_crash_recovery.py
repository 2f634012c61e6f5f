"""kill -9 of `codegen-bot serve` under a load of deliveries: every acknowledged delivery is handled once.

Both ways of serving: one process, and the core with two intake processes (`INTAKE_PROCESSES=2`), where
the core (the store's writer) is killed and its intake processes must follow it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.serve_process import alive, children, free_port, serve, wait_healthy
from tests.support.webhooks import headers_for, payload

TOTAL = 600
KILL_AFTER_ACKS = 200


def delivery(i: int) -> tuple[str, bytes]:
    data = payload("installation/created")
    data["installation"]["id"] = 10_000 + i
    data["installation"]["account"]["login"] = f"org-{i}"
    return f"crash-{i}", json.dumps(data).encode()


def pending(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0])


@pytest.mark.parametrize("intake_processes", [0, 2])
async def test_kill_9_under_load_loses_no_acknowledged_delivery(
    fake_github: FakeGitHub, tmp_path: Path, intake_processes: int
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path, fake_github, port, intake_processes=intake_processes)
    intake_pids: list[int] = []
    acked: set[str] = set()
    killed = asyncio.Event()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            await wait_healthy(session, url)
            intake_pids = children(proc.pid)
            assert len(intake_pids) == intake_processes

            async def send(i: int) -> None:
                delivery_id, body = delivery(i)
                try:
                    async with session.post(
                        f"{url}/webhook",
                        data=body,
                        headers=headers_for("installation", body, WEBHOOK_SECRET, delivery_id),
                    ) as resp:
                        if resp.status == 202:
                            acked.add(delivery_id)
                except (aiohttp.ClientError, ConnectionError):
                    return  # the process died under this request: GitHub would count it as failed
                if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                    killed.set()
                    os.kill(proc.pid, signal.SIGKILL)

            await asyncio.gather(*(send(i) for i in range(TOTAL)))
        assert killed.is_set()
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        assert KILL_AFTER_ACKS <= len(acked) < TOTAL
        await eventually(lambda: not any(alive(pid) for pid in intake_pids), within=5,
                         what="the intake processes to follow the core")

        proc = serve(tmp_path, fake_github, port, intake_processes=intake_processes)
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
        await eventually(lambda: pending(tmp_path / "bot.db") == 0, within=20, what="no pending delivery")
        with sqlite3.connect(tmp_path / "bot.db") as conn:
            rows = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, state, handled_count FROM deliveries")}
            installations = {r[0] for r in conn.execute("SELECT id FROM installations")}
    finally:
        proc.kill()
        proc.wait(10)
    missing = acked - rows.keys()
    assert not missing, f"{len(missing)} acknowledged deliveries were lost"
    assert all(rows[d] == ("handled", 1) for d in acked), {d: rows[d] for d in acked if rows[d] != ("handled", 1)}
    # the handler's effect exists for every acknowledged delivery
    assert {10_000 + int(d.split("-")[1]) for d in acked} <= installations
