"""`codegen-bot serve` as a real process on a loopback port, for tests that kill it or its intake processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.eventually import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(tmp_path: Path, fake: FakeGitHub, port: int, *, intake_processes: int = 0,
          configured: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GITHUB_API_URL": fake.url,
        "GITHUB_URL": "https://github.example",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "INTAKE_PROCESSES": str(intake_processes),
        **(extra_env or {}),
    }
    for name in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH", "GITHUB_WEBHOOK_SECRET"):
        env.pop(name, None)
    if configured:
        env.update(GITHUB_APP_ID=str(fake.app_id), GITHUB_PRIVATE_KEY=fake.private_key_pem,
                   GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET)
    log = (tmp_path / f"serve-{port}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve"], env=env, cwd=tmp_path,
                            stdout=log, stderr=log)


async def wait_healthy(session: aiohttp.ClientSession, url: str, within: float = 15.0) -> None:
    async def healthy() -> bool:
        try:
            async with session.get(f"{url}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(healthy, within=within, what=f"{url} to become healthy")


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def printed_setup_link(tmp_path: Path, port: int) -> str:
    """The one-time setup link `codegen-bot serve` printed on its console (an unconfigured App)."""
    log = (tmp_path / f"serve-{port}.log").read_text(errors="replace")
    found = re.findall(r"to register the GitHub App, open (\S+)", log)
    assert found, "the bot printed no setup link"
    return found[-1]
