"""Attack family: the PR's app steering web evaluation's browser (issue 12, item 5), on real Docker and Chromium.

Before the fix Chromium ran on the bot's host with `--no-sandbox`: a page of the app under test could redirect
or frame the host's loopback, the Docker bridge gateway, cloud metadata (169.254.169.254) or the bot's own
`/metrics`, and a deliberately failing page published what it showed as a screenshot.

Targets (each serves a page with a marker text on a magenta background, and records every request):
- a server on 0.0.0.0 of the host: its loopback (127.0.0.1), docker0's gateway and the snapshot network's
  gateway (the host's address on that bridge);
- "cloud metadata": 169.254.169.254 added to the host's `lo`, port 80.
The hostile app (a real snapshot) redirects to them (HTTP 302), frames them, navigates to them from script,
fetches them and opens WebSockets to them. Every page must fail with the blocked request recorded; the targets
must receive no request; no screenshot (pixels: no magenta) and no trace (DOM snapshots, resources) may show
the marker. One test takes the snapshot firewall out of the picture (a plain internal network, proven to reach
the host) to show the browser's own layers hold by themselves; one looks inside the browser container.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import ipaddress
import os
import subprocess
import threading
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import pytest_asyncio

from config.loader import load_text
from config.schema import WebEvalConfig
from tests.support.browser_fixtures import has_color, png_pixels
from tests.support.required import unavailable
from tests.support.tar import tar_of
from validators.health import wait_healthy
from validators.labels import LABEL
from validators.snapshot import Snapshot
from validators.web_eval.container import ROLE_LABEL, browser_sandbox
from validators.web_eval.runner import evaluate

MARKER = "TOP-SECRET-" + uuid.uuid4().hex[:8].upper()
MAGENTA = (255, 0, 255)
METADATA = "169.254.169.254"
TARGET_PAGE = (f"<html><body style='background:#ff00ff;margin:0;height:2000px'><h1>{MARKER}</h1>"
               f"<p>{MARKER}</p></body></html>").encode()

HOSTILE_APP = r'''
import http.server, json, urllib.parse
class App(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        to = dict(urllib.parse.parse_qsl(url.query)).get("to", "")
        if url.path == "/redirect":
            self.send_response(302); self.send_header("Location", to); self.end_headers(); return
        js = json.dumps(to)
        pages = {
            "/": "<h1>ok</h1>",
            "/frame": f"<h1>app page</h1><iframe src={js} width=600 height=300></iframe>",
            "/navigate": f"<h1>leaving</h1><script>location.href = {js}</script>",
            "/fetch": f"<h1>fetching</h1><pre id=out></pre><script>fetch({js}).then(r => r.text())"
                      ".then(t => document.getElementById('out').textContent = t)</script>",
            "/websocket": f"<h1>socket</h1><script>const s = new WebSocket({js});"
                          "s.onmessage = e => document.body.append(e.data)</script>",
        }
        body = pages.get(url.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write((body or "not found").encode())
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), App).serve_forever()
'''


class Target(http.server.ThreadingHTTPServer):
    """Serves the marker page; remembers every request line it was sent."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(TARGET_PAGE)

            def log_message(self, *args: Any) -> None:
                return None

        super().__init__((host, port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _needs_root() -> None:
    if os.geteuid() != 0:
        unavailable("needs root: adds 169.254.169.254 to lo",
                    in_ci="tests/security/test_browser.py needs root in CI (it adds 169.254.169.254 to lo)")


@pytest.fixture
def host_target() -> Iterator[Target]:
    server = Target("0.0.0.0", 0)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def metadata() -> Iterator[Target]:
    _needs_root()
    present = METADATA in subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                                         text=True).stdout
    if not present:
        subprocess.run(["ip", "addr", "add", f"{METADATA}/32", "dev", "lo"], check=True)
    try:
        server = Target(METADATA, 80)
    except OSError:
        if not present:
            subprocess.run(["ip", "addr", "del", f"{METADATA}/32", "dev", "lo"], check=False)
        raise
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        if not present:
            subprocess.run(["ip", "addr", "del", f"{METADATA}/32", "dev", "lo"], check=False)


@pytest_asyncio.fixture
async def hostile(docker_client: docker.DockerClient, base_image: str, browser_image: str
                  ) -> AsyncIterator[Snapshot]:
    snap = await Snapshot.create(docker_client, image=base_image, port=8000)
    try:
        await snap.put_tree(tar_of({"app.py": HOSTILE_APP}))
        await snap.start_background("python3 app.py")
        assert (await wait_healthy(f"{snap.app_url}/", timeout=30)).ok
        yield snap
    finally:
        await snap.remove()


def _gateway(client: docker.DockerClient, network: str) -> str:
    """The host's address on a Docker network (its gateway; Docker's default: the subnet's first address)."""
    config = client.networks.get(network).attrs["IPAM"]["Config"][0]
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))


def _attacks(target_port: int, gateways: list[str]) -> list[tuple[str, str]]:
    """(page path, the URL it must not reach)."""
    loop = f"http://127.0.0.1:{target_port}"
    pairs = [(f"/redirect?to={loop}/loopback", f"{loop}/loopback")]
    pairs += [(f"/redirect?to=http://{gw}:{target_port}/gateway", f"http://{gw}:{target_port}/gateway")
              for gw in gateways]
    pairs += [
        (f"/frame?to=http://{METADATA}/latest/meta-data/", f"http://{METADATA}/latest/meta-data/"),
        (f"/navigate?to=http://{METADATA}/latest/", f"http://{METADATA}/latest/"),
        (f"/fetch?to={loop}/metrics", f"{loop}/metrics"),
        (f"/websocket?to=ws://127.0.0.1:{target_port}/ws", f"ws://127.0.0.1:{target_port}/ws"),
    ]
    return pairs


def _config(pairs: list[tuple[str, str]]) -> WebEvalConfig:
    framed = next(path for path, _ in pairs if path.startswith("/frame"))
    pages = "".join(f"    - {{path: \"{path}\"}}\n" for path, _ in pairs)
    loaded = load_text(f"""
web_eval:
  viewport: {{width: 480, height: 320}}
  pages:
{pages}  flows:
    - name: framed then redirected
      steps:
        - goto: "{framed}"
        - screenshot: framed
        - goto: "/redirect?to=http://127.0.0.1:1/"
""")
    assert loaded.config is not None, loaded.errors
    return loaded.config.web_eval


class Saved:
    def __init__(self, root: Path) -> None:
        self.root, self.files = root, {}

    async def __call__(self, name: str, data: bytes) -> str:
        self.files[name] = data
        (self.root / name).write_bytes(data)
        return str(self.root / name)


def _assert_nothing_shown(saved: Saved) -> None:
    for name, data in saved.files.items():
        if name.endswith(".png"):
            assert png_pixels(data)[0] > 0 and not has_color(data, MAGENTA), f"{name} shows the target"
        if name.endswith(".zip"):  # a flow's trace: DOM snapshots, network resources, screencast frames
            with zipfile.ZipFile(io.BytesIO(data)) as trace:
                for entry in trace.namelist():
                    assert MARKER.encode() not in trace.read(entry), f"{name}:{entry} holds the target's page"


def _assert_blocked(outcome: Any, pairs: list[tuple[str, str]], saved: Saved) -> None:
    assert "items" in outcome.details, (outcome.title, outcome.summary)
    *pages, flow = outcome.details["items"]
    assert len(pages) == len(pairs)
    for item, (path, target) in zip(pages, pairs, strict=True):
        assert not item["passed"], path
        assert item["reason"].startswith("blocked request (not the app's origin)"), (path, item["reason"])
        assert any(line.startswith(target) for line in item["blocked_requests"]), (path, item["blocked_requests"])
        if path.startswith(("/redirect", "/navigate")):
            assert item["screenshots"] == [], f"{path}: a page of another origin was photographed"
    assert not flow["passed"] and flow["failing_step"].startswith("3. goto") and flow["trace"]
    assert any(name.startswith("flow-framed-then-redirected-framed") for name in saved.files)
    assert "### Blocked requests" in outcome.summary and MARKER not in outcome.summary + (outcome.text or "")
    _assert_nothing_shown(saved)


async def test_the_app_cannot_steer_the_browser_to_the_host_or_metadata(
        hostile: Snapshot, host_target: Target, metadata: Target, chromium: str,
        docker_client: docker.DockerClient, tmp_path: Path) -> None:
    gateways = [_gateway(docker_client, "bridge"), _gateway(docker_client, str(hostile.app_network))]
    pairs = _attacks(host_target.port, gateways)
    saved = Saved(tmp_path)
    outcome = await evaluate(str(hostile.app_url), _config(pairs), saved, chromium,
                             network=hostile.app_network, app_host=hostile.app_address)
    _assert_blocked(outcome, pairs, saved)
    assert host_target.requests == [] and metadata.requests == []


@pytest_asyncio.fixture
async def plain_network(docker_client: docker.DockerClient, hostile: Snapshot) -> AsyncIterator[str]:
    """An internal network WITHOUT the snapshot firewall, the hostile app on it as `site`."""
    name = f"codegen-bot-test-plain-{uuid.uuid4().hex[:8]}"
    network = await asyncio.to_thread(docker_client.networks.create, name, driver="bridge", internal=True,
                                      labels={"codegen-bot.test": "plain"})
    try:
        await asyncio.to_thread(network.connect, hostile.container, aliases=["site"])
        yield name
    finally:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(network.disconnect, hostile.container, force=True)
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(network.remove)


def _reaches(client: docker.DockerClient, image: str, network: str, url: str) -> str:
    """What a plain container on `network` gets from `url` (the control): the HTTP status, or curl's error."""
    probe = client.containers.create(image, ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", url],
                                     network=network, labels={"codegen-bot.test": "control"})
    try:
        probe.start()
        status = probe.wait(timeout=30)
        return f"{probe.logs().decode().strip()} (exit {status.get('StatusCode')})"
    finally:
        probe.remove(force=True)


async def test_the_browser_holds_even_without_the_snapshot_firewall(
        hostile: Snapshot, plain_network: str, host_target: Target, metadata: Target, chromium: str,
        docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> None:
    gateway = _gateway(docker_client, plain_network)
    for url in (f"http://{gateway}:{host_target.port}/control", f"http://{METADATA}/control"):
        got = await asyncio.to_thread(_reaches, docker_client, base_image, plain_network, url)
        assert got.startswith("200 "), (url, got)
    assert host_target.requests == ["/control"] and metadata.requests == ["/control"]
    pairs = _attacks(host_target.port, [gateway])
    saved = Saved(tmp_path)
    outcome = await evaluate("http://site:8000", _config(pairs), saved, chromium,
                             network=plain_network, app_host="site")
    _assert_blocked(outcome, pairs, saved)
    assert host_target.requests == ["/control"] and metadata.requests == ["/control"]


def _exec(container: Any, command: str, user: str = "10001") -> tuple[int, str]:
    code, out = container.exec_run(["sh", "-c", command], user=user)
    return int(code or 0), out.decode("utf-8", "replace")


async def test_inside_the_browser_container(hostile: Snapshot, host_target: Target, chromium: str,
                                            docker_client: docker.DockerClient) -> None:
    from playwright.async_api import async_playwright

    gateway = _gateway(docker_client, str(hostile.app_network))
    async with browser_sandbox(str(hostile.app_url), chromium, network=hostile.app_network,
                               app_host=hostile.app_address) as sandbox, async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(sandbox.cdp_url)
        sandbox.connected()
        page = await (await browser.new_context()).new_page()
        assert (await page.goto(sandbox.app_url + "/")).status == 200  # a renderer runs
        box = sandbox.container
        box.reload()
        labels, ip = box.labels, box.attrs["NetworkSettings"]["Networks"][hostile.app_network]["IPAddress"]
        assert labels[LABEL] == "1" and labels[ROLE_LABEL] == "web-eval"
        assert list(box.attrs["NetworkSettings"]["Networks"]) == [hostile.app_network]
        # the firewall: the app answers, the host's server on the gateway does not
        assert _exec(box, f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' {sandbox.app_url}/")[1] == "200"
        assert _exec(box, f"curl -s -m 3 http://{gateway}:{host_target.port}/")[0] != 0
        # Chromium runs as `browser`, its renderers in their own PID namespace (its sandbox is on)
        _, status = _exec(box, "for p in $(grep -l -- --type=renderer /proc/[0-9]*/cmdline); do"
                               " grep -E '^(Uid|NSpid)' ${p%/cmdline}/status; done", user="0")
        assert "Uid:\t10001" in status and any(len(line.split()) >= 3 for line in status.splitlines()
                                                if line.startswith("NSpid"))
        assert "--no-sandbox" not in _exec(box, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")[1]
        # DevTools answers on the container's loopback only: the app cannot drive the browser
        probe = f"python3 -c \"import socket; socket.create_connection(('{ip}', 9222), timeout=3)\""
        assert _exec(hostile.container, probe, user="0")[0] != 0
        assert _exec(box, "curl -s -m 3 http://127.0.0.1:9222/json/version")[1].startswith("{")
        await browser.close()
    assert host_target.requests == []
    leftovers = docker_client.containers.list(all=True, filters={"label": f"{ROLE_LABEL}=web-eval"})
    assert box.id not in [c.id for c in leftovers]

