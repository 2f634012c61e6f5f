"""Web evaluation with the real Chromium, in its browser container, against pages served from a real
snapshot container on its own internal network.

Both ways in are used: `network=`/`app_host=` (what the pipeline passes) and the app's URL alone (the
browser container then finds the snapshot network holding that address). The attacks on the browser
(other origins, the host, cloud metadata) are in tests/security/test_browser.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest_asyncio

from config.loader import load_text
from config.schema import WebEvalConfig
from entrypoints.app import artifact_store
from tests.support.bot_fixtures import RunningBot
from tests.support.tar import tar_of
from validators.health import wait_healthy
from validators.outcome import StageOutcome
from validators.pipeline import ValidationRequest, validate
from validators.snapshot import Snapshot
from validators.stages.web_eval import run_web_eval
from validators.web_eval.container import ROLE_LABEL
from validators.web_eval.runner import evaluate

SITE = {
    "index.html": "<html><body><h1>Welcome</h1><p>hello shop</p></body></html>",
    "console.html": "<html><body><h1>Oops</h1><script>console.error('boom in console')</script></body></html>",
    "broken.html": "<html><body><h1>Pics</h1><img src='/missing.png'></body></html>",
    "login.html": """<html><body><form id='f'><input id='user'><button type='submit'>Sign in</button></form>
<script>document.getElementById('f').addEventListener('submit', e => { e.preventDefault();
location.href = '/dashboard.html?u=' + encodeURIComponent(document.getElementById('user').value); });</script>
</body></html>""",
    "dashboard.html": """<html><body><div id='dashboard'></div><script>
document.getElementById('dashboard').textContent = 'Hello, ' + new URLSearchParams(location.search).get('u');
</script></body></html>""",
}


@pytest_asyncio.fixture
async def site(docker_client: docker.DockerClient, base_image: str) -> AsyncIterator[Snapshot]:
    snap = await Snapshot.create(docker_client, image=base_image, port=8000)
    try:
        await snap.put_tree(tar_of(SITE))
        await snap.start_background("python3 -m http.server 8000")
        base = str(snap.app_url)  # its address on its own network: nothing is published on the host
        assert (await wait_healthy(base + "/", timeout=30)).ok
        yield snap
    finally:
        await snap.remove()


def browsers(client: docker.DockerClient) -> list[object]:
    return client.containers.list(all=True, filters={"label": f"{ROLE_LABEL}=web-eval"})


class Saved:
    def __init__(self, root: Path) -> None:
        self.root, self.files = root, {}

    async def __call__(self, name: str, data: bytes) -> str:
        path = self.root / name.replace("/", "_")
        path.write_bytes(data)
        self.files[name] = data
        return str(path)


def web(text: str) -> WebEvalConfig:
    loaded = load_text(text)
    assert loaded.config is not None, loaded.errors
    return loaded.config.web_eval


async def test_pages_pass_or_fail_for_the_right_reason(site: Snapshot, chromium: str, tmp_path: Path) -> None:
    config = web("""
web_eval:
  pages:
    - {path: /index.html, status: 200, text: "hello shop", selector: h1}
    - {path: /console.html}
    - {path: /broken.html}
    - {path: /nothing-here.html}
    - {path: /index.html, text: "not there"}
""")
    saved = Saved(tmp_path)
    outcome = await evaluate(str(site.app_url), config, saved, chromium, network=site.app_network,
                             app_host=site.app_address)
    items = outcome.details["items"]
    assert [i["passed"] for i in items] == [True, False, False, False, False]
    assert items[0]["status"] == 200 and items[0]["timings"]["load"] is not None
    assert "boom in console" in items[1]["reason"]
    assert items[2]["reason"] == "failed request: 404 /missing.png"
    assert items[3]["reason"].startswith("HTTP 404")
    assert "not there" in items[4]["reason"]
    assert outcome.conclusion == "failure" and "4 of 5" in outcome.title
    assert all(i["screenshots"] for i in items[1:])  # every failing page has its screenshot
    assert all(data.startswith(b"\x89PNG") for data in saved.files.values())
    assert "boom in console" in (outcome.text or "")
    assert "| ✅ | page `/index.html` | 200 |" in outcome.summary


async def test_flows_pass_fail_at_a_step_and_time_out(site: Snapshot, chromium: str, tmp_path: Path,
                                                      docker_client: docker.DockerClient) -> None:
    config = web("""
web_eval:
  viewport: mobile
  flows:
    - name: sign in
      steps:
        - goto: /login.html
        - fill: {selector: "#user", value: alice}
        - click: "button[type=submit]"
        - wait_for: "#dashboard"
        - expect_text: "Hello, alice"
        - expect_url: /dashboard.html
        - expect_no_console_errors: true
        - screenshot: signed-in
    - name: wrong greeting
      steps:
        - goto: /login.html
        - fill: {selector: "#user", value: bob}
        - press: Enter
        - expect_text: "Hello, alice"
    - name: too slow
      timeout_seconds: 2
      steps:
        - goto: /index.html
        - wait_for: "#never"
""")
    saved = Saved(tmp_path)
    outcome = await evaluate(str(site.app_url), config, saved, chromium)  # the URL alone: found by address
    ok, wrong, slow = outcome.details["items"]
    assert ok["passed"] and ok["screenshots"] and not ok["trace"]
    assert not wrong["passed"] and wrong["failing_step"] == "4. expect_text: Hello, alice"
    assert "did not appear" in wrong["reason"] and wrong["screenshots"] and wrong["trace"]
    assert not slow["passed"] and slow["failing_step"].startswith("2. wait_for")
    assert "2 s" in slow["reason"] or "Timeout" in slow["reason"]
    assert "`4. expect_text: Hello, alice`" in outcome.summary and "Playwright trace" in outcome.summary
    assert "flow-sign-in-signed-in.png" in saved.files
    assert browsers(docker_client) == []  # the browser container is gone


async def test_an_address_no_snapshot_holds_is_refused(chromium: str, tmp_path: Path) -> None:
    outcome = await evaluate("http://127.0.0.1:9/", web("web_eval: {pages: [{path: /}]}"), Saved(tmp_path), chromium)
    assert outcome.conclusion == "failure" and "could not run" in outcome.title
    assert "not a snapshot" in outcome.summary


async def test_the_stage_hands_over_the_snapshot_network(site: Snapshot) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def web_eval(base_url: str, config: object, validation_id: str, **where: str) -> StageOutcome:
        seen.append((base_url, where))
        return StageOutcome("web-eval", "success", "ok", "ok")

    async def old_style(base_url: str, config: object, validation_id: str) -> StageOutcome:
        seen.append((base_url, {}))
        return StageOutcome("web-eval", "success", "ok", "ok")

    loaded = load_text("snapshot: {deploy: 'true', port: 8000}\nweb_eval: {pages: [{path: /}]}")
    assert loaded.config is not None
    for function in (web_eval, old_style):
        req = ValidationRequest(validation_id="v", repo="o/r", sha="0" * 40, config=loaded.config, source_tar=b"",
                                changed_files={}, docker=site.client, web_eval=function)  # type: ignore[arg-type]
        assert (await run_web_eval(req, site, earlier_failed=False)).conclusion == "success"
    assert seen == [(site.app_url, {"network": site.app_network, "app_host": "app"}), (site.app_url, {})]


async def test_app_never_healthy_skips_web_eval(docker_client: docker.DockerClient, base_image: str,
                                                chromium: str, tmp_path: Path) -> None:
    loaded = load_text(f"""
snapshot:
  image: {base_image}
  deploy: "echo crashed; exit 1"
health_check: {{timeout_seconds: 2}}
web_eval: {{pages: [{{path: /}}]}}
""")
    assert loaded.config is not None
    calls: list[str] = []

    async def web_eval(base_url: str, config: object, validation_id: str) -> object:
        calls.append(base_url)
        raise AssertionError("must not run")

    report = await validate(ValidationRequest(
        validation_id=uuid.uuid4().hex, repo="o/r", sha="0" * 40, config=loaded.config, source_tar=tar_of({}),
        changed_files={}, docker=docker_client, web_eval=web_eval))  # type: ignore[arg-type]
    assert report.outcomes["deploy"].conclusion == "failure"
    assert report.outcomes["web-eval"].conclusion == "skipped" and calls == []
    assert "not deployed and healthy" in report.outcomes["web-eval"].summary


async def test_artifact_urls_are_signed_and_expire(start_bot: object, tmp_path: Path) -> None:
    bot: RunningBot = await start_bot(artifacts_dir=tmp_path / "artifacts")  # type: ignore[operator]
    store = artifact_store(bot.settings)
    png = b"\x89PNG\r\n\x1a\nfake"
    store.save("v123", "page-index.png", png)
    good = store.signed_path("v123", "page-index.png")
    async with bot.session.get(bot.url + good) as resp:
        assert resp.status == 200 and await resp.read() == png and resp.content_type == "image/png"
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    expired = store.signed_path("v123", "page-index.png", now=time.time() - store.ttl - 10)
    other = good.replace("page-index.png", "other.png")
    for path in (tampered, expired, other, "/artifacts/v123/page-index.png"):
        async with bot.session.get(bot.url + path) as resp:
            assert resp.status == 403, path
