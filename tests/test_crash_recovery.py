"""kill -9 of `codegen-bot serve` under a load of deliveries: every acknowledged delivery is handled once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.webhooks import headers_for, payload

TOTAL = 600
KILL_AFTER_ACKS = 200


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(tmp_path: Path, fake: FakeGitHub, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GITHUB_APP_ID": str(fake.app_id),
        "GITHUB_PRIVATE_KEY": fake.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": fake.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / f"serve-{port}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env, cwd=tmp_path, stdout=log, stderr=log)


async def wait_healthy(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(200):
        try:
            async with session.get(f"{url}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not become healthy")


def delivery(i: int) -> tuple[str, bytes]:
    data = payload("installation/created")
    data["installation"]["id"] = 10_000 + i
    data["installation"]["account"]["login"] = f"org-{i}"
    return f"crash-{i}", json.dumps(data).encode()


async def test_kill_9_under_load_loses_no_acknowledged_delivery(fake_github: FakeGitHub, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(tmp_path, fake_github, port)
    acked: set[str] = set()
    killed = asyncio.Event()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            await wait_healthy(session, url)

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

        proc = serve(tmp_path, fake_github, port)
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url)
        for _ in range(400):
            with sqlite3.connect(tmp_path / "bot.db") as conn:
                left = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
            if left == 0:
                break
            await asyncio.sleep(0.05)
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
