"""Web-evaluation benchmark (figure, not a test). Needs Docker, the base image and Chromium.

The example app (examples/hello-app) runs in a real snapshot container; 20 of its pages are evaluated:
(1) by the bot's web evaluation (validators/web_eval: console/network watching, timings, checks), and
(2) by a bare Playwright script that only opens each page in a fresh context, with Debian's Chromium on
    the host (`--no-sandbox`, as root; the bot's own browser runs in a container on the snapshot's
    internal network, see validators/web_eval/container.py) and the same concurrency (2), in the same run.
The bot's figure therefore includes starting the browser container and its relay.
Prints pages per second of both and the bot's time per page relative to the bare script.

    SNAPSHOT_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt .venv/bin/python bench/web_eval.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker

from config.schema import WebEvalConfig, WebPage
from validators.health import wait_healthy
from validators.sandbox_network import SandboxNetwork
from validators.snapshot import Snapshot
from validators.web_eval.runner import CHROMIUM_FLAGS, evaluate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hello-app"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PATHS = [p for i in range(5) for p in ("/", "/about", "/login", f"/dashboard?user=u{i}")]


def tree() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(EXAMPLE, arcname=".")
    return buf.getvalue()


async def bare(base: str) -> float:
    from playwright.async_api import async_playwright

    limit = asyncio.Semaphore(2)
    async with async_playwright() as p:
        started = time.monotonic()
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, "--no-sandbox"],
                                          headless=True)

        async def visit(path: str) -> None:
            async with limit:
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(base + path, wait_until="load")
                await context.close()

        await asyncio.gather(*(visit(path) for path in PATHS))
        await browser.close()
        return time.monotonic() - started


async def bot(base: str, snap: Snapshot) -> float:
    config = WebEvalConfig(pages=[WebPage(path=p) for p in PATHS])

    async def save(name: str, data: bytes) -> str:
        return name

    started = time.monotonic()
    outcome = await evaluate(base, config, save, max_concurrent=2, network=snap.app_network,
                             app_host=snap.app_address)
    elapsed = time.monotonic() - started
    assert outcome.conclusion == "success", outcome.summary
    return elapsed


async def main(rounds: int) -> None:
    client = docker.from_env()
    ca = os.environ.get("SNAPSHOT_CA_BUNDLE")
    network = await SandboxNetwork.create(client, policy="setup-only")  # pip reaches the registry in setup
    snap = await Snapshot.create(client, image="codegen-bot-base:bookworm", port=8000, ca_bundle=ca,
                                 env={"PORT": "8000"}, network=network)
    try:
        await snap.put_tree(tree())
        for step in ("python3 -m venv /opt/venv", "/opt/venv/bin/pip install -q -r requirements.txt"):
            result = await snap.run(step, timeout=300)
            assert result.ok, result.output
        await network.end_setup(snap.container)
        await snap.start_background("/opt/venv/bin/python -m app.server")
        base = snap.app_url
        assert base is not None and (await wait_healthy(base + "/healthz", timeout=30)).ok
        await bot(base, snap)  # warm-up (first browser start)
        bots, bares = [], []
        for _ in range(rounds):
            bots.append(await bot(base, snap))
            bares.append(await bare(base))
    finally:
        await snap.remove()
        await network.remove()
        client.close()
    b, r = statistics.median(bots), statistics.median(bares)
    n = len(PATHS)
    print(f"{n} pages, concurrency 2, median of {rounds} rounds (browser start included in both):")
    print(f"  bot web evaluation  {b:.2f} s  → {n / b:.1f} pages/s, {b / n * 1000:.0f} ms/page")
    print(f"  bare Playwright     {r:.2f} s  → {n / r:.1f} pages/s, {r / n * 1000:.0f} ms/page")
    print(f"  bot / bare: {b / r:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
