"""Attack family: costing the bot memory or workers before the signature check (issue 12, item 2).

Before the fix, bodies were read whole and gzip-inflated by aiohttp before verification, with no read
timeouts: ten stalled unsigned gzip bodies (24 KB each, 24 MiB inflated) added about 500 MB that stayed.
These tests run the real `codegen-bot serve` (both intake paths) and attack it over raw sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.serve_process import children, free_port, serve, wait_healthy
from tests.support.webhooks import headers_for, payload

BOMB = gzip.compress(b" " * (24 * 1024 * 1024))  # about 24 KB on the wire, 24 MiB inflated


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (the core and its intake processes)."""
    total = 0
    for each in (pid, *children(pid)):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


async def open_raw(port: int, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    return reader, writer


def request_head(length: int, *, encoding: str | None = None) -> bytes:
    lines = ["POST /webhook HTTP/1.1", "Host: bot", "Content-Type: application/json",
             "X-GitHub-Event: issues", "X-GitHub-Delivery: attack", "X-Hub-Signature-256: sha256=00",
             f"Content-Length: {length}"]
    if encoding:
        lines.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 20)
    return int(line.split()[1]) if line else 0


@pytest.mark.parametrize("intake_processes", [0, 2])
async def test_compressed_and_stalled_bodies_cost_little_and_block_nobody(
    fake_github: FakeGitHub, tmp_path: Path, intake_processes: int
) -> None:
    fake_github.add_installation("octo-org", ["octo-org/app"])
    port = free_port()
    proc = serve(tmp_path, fake_github, port, intake_processes=intake_processes)
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}"
            await wait_healthy(session, url)
            before = rss_bytes(proc.pid)
            bombs = [await open_raw(port, request_head(len(BOMB), encoding="gzip") + BOMB) for _ in range(25)]
            stalled = [await open_raw(port, request_head(20 * 1024 * 1024) + b"{" * 24_000) for _ in range(25)]
            body = json.dumps(payload("issues/opened")).encode()
            async with session.post(f"{url}/webhook", data=body,
                                    headers=headers_for("issues", body, WEBHOOK_SECRET)) as resp:
                assert resp.status == 202  # a valid delivery is served while 50 attackers hold connections
            assert [await status_of(r) for r, _ in bombs] == [415] * 25
            grown = rss_bytes(proc.pid) - before
            assert grown < 50 * 1024 * 1024, f"{grown / 2**20:.0f} MiB more after 50 hostile connections"
            assert [await status_of(r) for r, _ in stalled[:3]] == [408] * 3  # after the body timeout
            for _, writer in bombs + stalled:
                writer.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def test_a_connection_that_never_finishes_its_headers_is_closed(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    port = free_port()
    proc = serve(tmp_path, fake_github, port)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, f"http://127.0.0.1:{port}")
        reader, writer = await open_raw(port, b"POST /webhook HTTP/1.1\r\nHost: bot\r\nX-GitHub-Event: iss")
        started = time.monotonic()
        closed = await eventually(lambda: reader.at_eof() or None, within=30, what="the server to hang up")
        assert closed and time.monotonic() - started > 1  # closed by the header timeout, not refused at once
        writer.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
