"""`INTAKE_PROCESSES=2`: intake processes in intake of the core, as a real `codegen-bot serve` on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.store.delivery_body import MAGIC
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually
from tests.support.serve_process import alive, children, free_port, printed_setup_link, serve, wait_healthy
from tests.support.setup_form import form_of
from tests.support.webhooks import headers_for, payload


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, session: aiohttp.ClientSession, db: Path) -> None:
        self.proc, self.url, self.session, self.db = proc, url, session, db

    async def post(self, event: str, data: dict[str, object], secret: str = WEBHOOK_SECRET,
                   delivery_id: str | None = None) -> tuple[int, dict[str, object]]:
        body = json.dumps(data).encode()
        async with self.session.post(f"{self.url}/webhook", data=body,
                                     headers=headers_for(event, body, secret, delivery_id)) as resp:
            return resp.status, await resp.json()

    def rows(self) -> dict[str, tuple[str, bytes]]:
        with sqlite3.connect(self.db) as conn:
            return {r[0]: (r[1], bytes(r[2])) for r in conn.execute("SELECT id, state, body FROM deliveries")}


Start = Callable[..., Awaitable[Served]]


@pytest_asyncio.fixture
async def start(fake_github: FakeGitHub, tmp_path: Path) -> AsyncIterator[Start]:
    procs: list[subprocess.Popen[bytes]] = []
    sessions: list[aiohttp.ClientSession] = []

    async def factory(configured: bool = True) -> Served:
        port = free_port()
        proc = serve(tmp_path, fake_github, port, intake_processes=2, configured=configured)
        procs.append(proc)
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # keeps the setup cookie
        sessions.append(session)
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(session, url)
        return Served(proc, url, session, tmp_path / "bot.db")

    yield factory
    for session in sessions:
        await session.close()
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_intake_processes_verify_store_and_pass_other_routes_to_the_core(start: Start) -> None:
    bot = await start()
    intake_pids = children(bot.proc.pid)
    assert len(intake_pids) == 2
    for pid in intake_pids:  # the App's credentials stay in the core
        environ = await asyncio.to_thread(Path(f"/proc/{pid}/environ").read_bytes)
        assert WEBHOOK_SECRET.encode() not in environ and b"PRIVATE KEY" not in environ

    status, _ = await bot.post("installation", payload("installation/created"), secret="wrong-secret-0123")
    assert status == 401
    status, answer = await bot.post("installation", payload("installation/created"), delivery_id="d-1")
    assert (status, answer["status"]) == (202, "queued")
    status, answer = await bot.post("installation", payload("installation/created"), delivery_id="d-1")
    assert (status, answer["status"]) == (202, "duplicate")
    async with bot.session.post(f"{bot.url}/webhook", data=b"{not json",
                                headers=headers_for("issues", b"{not json", WEBHOOK_SECRET)) as resp:
        assert resp.status == 400
    assert list(bot.rows()) == ["d-1"]  # refusals stored nothing
    await eventually(lambda: bot.rows()["d-1"][0] == "handled", within=10, what="d-1 to be handled")

    # routes other than /webhook are the core's, passed through unchanged
    async with bot.session.get(f"{bot.url}/") as resp:
        assert resp.status == 200 and "codegen-bot is running" in await resp.text()
    async with bot.session.get(f"{bot.url}/metrics") as resp:
        metrics = await resp.text()
    assert 'codegen_bot_deliveries_rejected_total{reason="401"} 1.0' in metrics
    assert 'codegen_bot_deliveries_rejected_total{reason="400"} 1.0' in metrics
    assert "codegen_bot_deliveries_duplicate_total 1.0" in metrics
    assert "codegen_bot_deliveries_received_total 4.0" in metrics
    async with bot.session.get(f"{bot.url}/artifacts/x/y.png?expires=1&sig=bad") as resp:
        assert resp.status == 403


async def test_bodies_are_stored_packed_and_handled_from_the_store(start: Start) -> None:
    bot = await start()
    data = payload("installation/created")
    data["installation"]["id"] = 4242  # type: ignore[index]
    status, _ = await bot.post("installation", data, delivery_id="inst-1")
    assert status == 202
    stored = bot.rows()["inst-1"][1]
    assert stored.startswith(MAGIC) and len(stored) < len(json.dumps(data)) / 2
    await eventually(lambda: bot.rows()["inst-1"][0] == "handled", within=10, what="inst-1 to be handled")
    with sqlite3.connect(bot.db) as conn:  # the handler read the payload back: it recorded the installation
        assert conn.execute("SELECT count(*) FROM installations WHERE id = 4242").fetchone()[0] == 1


async def test_a_killed_intake_process_is_replaced_and_nothing_acknowledged_is_lost(start: Start) -> None:
    bot = await start()
    first = children(bot.proc.pid)
    acked: set[str] = set()

    async def send(i: int) -> None:
        data = payload("installation/created")
        data["installation"]["id"] = 20_000 + i  # type: ignore[index]
        try:
            status, _ = await bot.post("installation", data, delivery_id=f"k-{i}")
        except (aiohttp.ClientError, ConnectionError):
            return  # this request's process died: GitHub counts it as failed and redelivers
        if status == 202:
            acked.add(f"k-{i}")

    load = [asyncio.create_task(send(i)) for i in range(300)]
    await asyncio.sleep(0.05)
    os.kill(first[0], signal.SIGKILL)
    await asyncio.gather(*load)
    await eventually(lambda: len(children(bot.proc.pid)) == 2 and first[0] not in children(bot.proc.pid), within=10,
                     what="a replacement intake process")
    assert not alive(first[0]) and alive(first[1])

    for i in range(300, 320):  # the replacement and the survivor both serve
        await send(i)
    assert {f"k-{i}" for i in range(300, 320)} <= acked
    rows = bot.rows()
    assert acked <= rows.keys()
    await eventually(lambda: all(state == "handled" for state, _ in bot.rows().values()), within=10,
                     what="every stored delivery to be handled")


async def test_the_setup_flow_reaches_the_intake_processes(start: Start, fake_github: FakeGitHub,
                                                           tmp_path: Path) -> None:
    bot = await start(configured=False)
    status, _ = await bot.post("issues", payload("issues/opened"))
    assert status == 503  # no secret yet: nothing can be verified
    fake_github.register_manifest_code("intake-code", slug="codegen-bot-intake")
    link = printed_setup_link(tmp_path, int(bot.url.rsplit(":", 1)[1]))
    async with bot.session.get(link) as resp:
        action, manifest = form_of(await resp.text())
    assert manifest["hook_attributes"] == {"url": f"{bot.url}/webhook"}
    state = action.split("state=", 1)[1]
    async with bot.session.get(f"{bot.url}/setup/callback", params={"code": "intake-code", "state": state}) as resp:
        assert resp.status == 200, await resp.text()
    values = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if line)
    secret = json.loads(values["GITHUB_WEBHOOK_SECRET"])
    for _ in range(6):  # every intake process got the new secret (connections land on either)
        async with aiohttp.ClientSession() as fresh:
            body = json.dumps(payload("issues/opened")).encode()
            async with fresh.post(f"{bot.url}/webhook", data=body, headers=headers_for("issues", body, secret)) as resp:
                assert resp.status == 202


async def test_a_port_in_use_stops_start_up_with_a_clear_message(fake_github: FakeGitHub, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for processes in (0, 2):
            proc = serve(tmp_path, fake_github, port, intake_processes=processes)
            assert await asyncio.to_thread(proc.wait, 30) == 2
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert log.count(f"cannot listen on 127.0.0.1:{port}") == 2


def test_intake_processes_do_not_inherit_the_apps_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.intake.process_pool import intake_process_environment

    monkeypatch.setenv("GITHUB_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----x")
    monkeypatch.setenv("CODEGEN_API_TOKEN", "codegen-token-123456")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = intake_process_environment()
    assert "GITHUB_PRIVATE_KEY" not in env and "CODEGEN_API_TOKEN" not in env and env["PATH"] == "/usr/bin"
