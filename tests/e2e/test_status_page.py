"""The status page over HTTP (aiohttp, no browser): sign-in against the fake GitHub's OAuth, the state and CSRF
checks, who sees what, operators' replays, and ADMIN_PORT. The real-browser test is test_status_browser.py."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

from bot.runtime.redaction import is_registered, redact
from tests.fakes.github import FakeGitHub
from tests.fakes.github_oauth import oauth_state
from tests.support.bot_fixtures import RunningBot
from tests.support.status_scenario import BUILD_LOG, SHOP, VAULT, VAULT_LOG_LINE, StatusScene, status_scene

StartBot = Callable[..., Awaitable[RunningBot]]


async def sign_in(scene: StatusScene, login: str) -> aiohttp.ClientSession:
    """A browser signed in to the status page as `login` (its cookies kept, redirects followed)."""
    scene.fake.sign_in_browser(login)
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with browser.get(f"{scene.bot.url}/status") as resp:
        assert resp.status == 200, await resp.text()
        assert f"Signed in as <strong>{login}</strong>" in await resp.text()
    return browser


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def failed_job(bot: RunningBot) -> int:
    """A job that used up its attempts (of a kind nobody runs, so a replay stays queued)."""
    jobs = bot.server.jobs
    assert jobs is not None
    job_id = await jobs.enqueue("status-test-kind", {"note": "nobody runs this kind"})
    await jobs.db.write(lambda c: c.execute("UPDATE jobs SET state = 'failed', attempts = 3, error = 'boom'"
                                            " WHERE id = ?", (job_id,)))
    return job_id


async def test_without_a_session_the_page_redirects_to_githubs_sign_in_with_a_state_bound_to_a_cookie(
    fake_github: FakeGitHub, start_bot: StartBot,
) -> None:
    scene = await status_scene(fake_github, start_bot)
    async with scene.bot.session.get(f"{scene.bot.url}/status/repos/{SHOP}", allow_redirects=False) as resp:
        assert resp.status == 302
        target = urlsplit(resp.headers["Location"])
        cookie = resp.cookies["codegen_status_state"]
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake_github.url}/login/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [fake_github.app.client_id]
    assert query["redirect_uri"] == [f"{scene.bot.url}/status/callback"]
    assert query["state"][0] and query["state"][0] in cookie.value
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/status"
    async with scene.bot.session.post(f"{scene.bot.url}/status/sign-out", allow_redirects=False) as resp:
        assert resp.status == 403  # a POST is never redirected to sign in


async def test_a_callback_whose_state_is_not_the_cookies_is_refused_and_no_code_is_exchanged(
    fake_github: FakeGitHub, start_bot: StartBot, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    scene = await status_scene(fake_github, start_bot)
    fake_github.sign_in_browser("alice")
    async with scene.bot.session.get(f"{scene.bot.url}/status", allow_redirects=False) as resp:
        authorize = resp.headers["Location"]
    async with scene.bot.session.get(authorize, allow_redirects=False) as resp:
        callback = resp.headers["Location"]
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    async with scene.bot.session.get(forged, allow_redirects=False) as resp:
        assert resp.status == 400
    async with aiohttp.ClientSession() as stranger:  # the right state, but not this browser's cookie
        async with stranger.get(callback, allow_redirects=False) as resp:
            assert resp.status == 400
    assert fake_github.calls("oauth/access_token") == []
    async with scene.bot.session.get(callback, allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == "/status"
        session = resp.cookies["codegen_status"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert len(fake_github.calls("oauth/access_token")) == 1
    async with scene.bot.session.get(f"{scene.bot.url}/status") as resp:
        assert resp.status == 200 and "Signed in as <strong>alice</strong>" in await resp.text()
    (token,) = oauth_state(fake_github.world).tokens
    assert is_registered(token) and redact(f"token {token}") == "token [redacted]"  # masked in every log line
    assert token not in caplog.text and all(token not in cookie.value for cookie in scene.bot.session.cookie_jar)


async def test_a_reader_sees_their_repositories_and_nothing_of_a_private_one(
    fake_github: FakeGitHub, start_bot: StartBot,
) -> None:
    scene = await status_scene(fake_github, start_bot)
    browser = await sign_in(scene, "alice")
    async with browser:
        pages = []
        for path in ("/status", f"/status/repos/{SHOP}", f"/status/repos/{SHOP}/validations/{scene.passed_id}"):
            async with browser.get(scene.bot.url + path) as resp:
                assert resp.status == 200
                assert "script" not in resp.headers["Content-Security-Policy"].replace("default-src 'none'", "")
                pages.append(await resp.text())
        index, repo, log = pages
        assert SHOP in index and "#7" in index and "passed" in index and "#9" in index  # held fork PR
        assert "merge train into main: 1 of 1" in repo and "https://codegen.example/runs/1" in repo
        assert "npm run build" in log and "added 812 packages" in log and BUILD_LOG.splitlines()[-1] in log
        for page in pages:
            assert VAULT not in page and "vault" not in page and VAULT_LOG_LINE not in page
        for path in (f"/status/repos/{VAULT}", f"/status/repos/{VAULT}/validations/{scene.vault_id}",
                     f"/status/repos/{SHOP}/validations/{scene.vault_id}", "/status/repos/octo-org/nothing-here"):
            async with browser.get(scene.bot.url + path) as resp:
                assert resp.status == 404, path
                assert "vault" not in (await resp.text()).lower()
        async with browser.get(f"{scene.bot.url}/status/operator") as resp:
            assert resp.status == 404  # alice is no operator


async def test_an_operator_replays_a_failed_job_with_the_csrf_token_only(
    fake_github: FakeGitHub, start_bot: StartBot,
) -> None:
    scene = await status_scene(fake_github, start_bot)
    jobs = scene.bot.server.jobs
    assert jobs is not None
    job_id = await failed_job(scene.bot)
    browser = await sign_in(scene, "bob")
    async with browser:
        async with browser.get(f"{scene.bot.url}/status") as resp:
            assert VAULT in await resp.text()  # bob can read it
        async with browser.get(f"{scene.bot.url}/status/operator") as resp:
            assert resp.status == 200
            page = await resp.text()
        assert "status-test-kind" in page and "boom" in page
        replay = f"{scene.bot.url}/status/operator/jobs/{job_id}/replay"
        for token in ("", "0" * 64):
            async with browser.post(replay, data={"csrf": token}, allow_redirects=False) as resp:
                assert resp.status == 403
        assert (await jobs.get(job_id) or {})["state"] == "failed"
        async with browser.post(replay, data={"csrf": csrf_of(page)}) as resp:
            assert resp.status == 200 and f"Job {job_id} queued again." in await resp.text()
        job = await jobs.get(job_id) or {}
        assert job["state"] == "queued" and job["attempts"] == 0


async def test_with_admin_port_operator_pages_leave_the_public_address(
    fake_github: FakeGitHub, start_bot: StartBot,
) -> None:
    scene = await status_scene(fake_github, start_bot, admin_port=0)
    job_id = await failed_job(scene.bot)
    browser = await sign_in(scene, "bob")
    async with browser:
        async with browser.get(f"{scene.bot.url}/status/operator") as resp:
            assert resp.status == 404
        async with browser.get(f"{scene.bot.url}/status") as resp:
            assert 'href="/status/operator"' not in await resp.text()
    runner = web.AppRunner(scene.bot.server.make_admin_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    admin = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as local:
            async with local.get(f"{admin}/status/operator") as resp:
                assert resp.status == 200 and "Failed jobs" in await resp.text()
                token = csrf_of(await resp.text())
            async with local.post(f"{admin}/status/operator/deliveries/nope/replay", data={"csrf": "x"}) as resp:
                assert resp.status == 403
            async with local.post(f"{admin}/status/operator/deliveries/nope/replay", data={"csrf": token}) as resp:
                assert resp.status == 200 and "nope was not replayed" in await resp.text()
            async with local.post(f"{admin}/status/operator/jobs/{job_id}/replay", data={"csrf": token}) as resp:
                assert resp.status == 200 and f"Job {job_id} queued again." in await resp.text()
    finally:
        await runner.cleanup()


async def test_an_expired_user_token_signs_the_user_out(
    fake_github: FakeGitHub, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("handlers.status.access.VISIBLE_TTL", 0.0)  # ask GitHub at every page
    scene = await status_scene(fake_github, start_bot)
    browser = await sign_in(scene, "alice")
    async with browser:
        fake_github.expire_user_tokens()
        async with browser.get(f"{scene.bot.url}/status", allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"].startswith(f"{fake_github.url}/login/oauth/authorize?")


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(fake_github: FakeGitHub, start_bot: StartBot) -> None:
    scene = await status_scene(fake_github, start_bot)
    browser = await sign_in(scene, "alice")
    async with browser:
        async with browser.get(f"{scene.bot.url}/status") as resp:
            token = csrf_of(await resp.text())
        async with browser.post(f"{scene.bot.url}/status/sign-out", data={"csrf": "f" * 64}) as resp:
            assert resp.status == 403
        async with browser.post(f"{scene.bot.url}/status/sign-out", data={"csrf": token},
                                allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/status/signed-out"
        async with browser.get(f"{scene.bot.url}/status", allow_redirects=False) as resp:
            assert resp.status == 302 and "/login/oauth/authorize?" in resp.headers["Location"]


async def test_without_the_apps_oauth_client_the_page_says_what_to_set(
    fake_github: FakeGitHub, start_bot: StartBot,
) -> None:
    bot = await start_bot()
    async with bot.session.get(f"{bot.url}/status") as resp:
        assert resp.status == 503 and "GITHUB_CLIENT_ID" in await resp.text()
