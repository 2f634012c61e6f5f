"""The status page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by scripts/ensure-system.sh;
never `playwright install`) driven by Playwright, signing in through the fake GitHub's OAuth pages.

Set STATUS_PAGE_SCREENSHOT=docs/status-page.png to keep the screenshot of the repository page (the docs' picture).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.required import unavailable
from tests.support.status_scenario import SHAS, SHOP, VAULT, VAULT_LOG_LINE, status_scene

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def debian_chromium() -> str:
    """Debian's Chromium: a skip on a developer machine without it, a failure under CI=true."""
    if not CHROMIUM.exists():
        unavailable("no /usr/bin/chromium (scripts/ensure-system.sh installs it)",
                    in_ci="Chromium (/usr/bin/chromium) is required in CI")
    return str(CHROMIUM)


async def test_sign_in_a_validation_row_its_log_and_no_trace_of_a_private_repository(
    fake_github: FakeGitHub, start_bot: Callable[..., Awaitable[RunningBot]], debian_chromium: str,
) -> None:
    scene = await status_scene(fake_github, start_bot)
    fake_github.sign_in_browser("alice")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=debian_chromium, args=["--no-sandbox"])
        try:
            page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
            await page.goto(f"{scene.bot.url}/status")  # → GitHub's authorize → the bot's callback → /status
            assert page.url == f"{scene.bot.url}/status"
            assert "Signed in as alice" in await page.locator("header").inner_text()
            assert len(fake_github.calls("oauth/authorize")) == 1 and len(fake_github.calls("oauth/access_token")) == 1

            row = page.locator(f'table.validations tr[data-validation="{scene.passed_id}"]')
            assert await row.count() == 1
            cells = await row.locator("td").all_inner_texts()
            assert cells[:4] == [SHOP, "#7", SHAS[0][:12], "passed"], cells
            assert "build 13.1 s" in cells[4]

            await row.get_by_role("link", name="log").click()
            await page.wait_for_url(f"**/status/repos/{SHOP}/validations/{scene.passed_id}")
            log = await page.locator("#stage-build pre.log").inner_text()
            assert "added 812 packages" in log and "build finished: dist/app.js" in log

            for path in ("/status", f"/status/repos/{SHOP}"):
                await page.goto(scene.bot.url + path)
                text = (await page.content()).lower()
                assert "vault" not in text and VAULT_LOG_LINE not in text
            if os.environ.get("STATUS_PAGE_SCREENSHOT"):
                await page.screenshot(path=os.environ["STATUS_PAGE_SCREENSHOT"], full_page=True)
            response = await page.goto(f"{scene.bot.url}/status/repos/{VAULT}")
            assert response is not None and response.status == 404
            assert "vault" not in (await page.locator("main").inner_text()).lower()
        finally:
            await browser.close()
