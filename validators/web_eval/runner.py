"""Check the deployed app in Chromium: every `web_eval.pages` entry and every `web_eval.flows` flow.

Decisions:
- The browser is never on the bot's host: Chromium runs in its own container next to the app and
  Playwright drives it over DevTools (validators/web_eval/container.py); only the app's origin can be
  reached (validators/web_eval/origin.py).
- One browser per validation, one browser context per page and per flow (no shared cookies or storage),
  service workers blocked, downloads refused.
- Chromium's own request for `/favicon.ico` is not the page's: its 404 is ignored.
- A page passes when its HTTP status matches (`status`, default any 2xx), its `text` and `selector` are
  present, and nothing went wrong while it loaded: no console error, no uncaught page error, no failed
  request (4xx/5xx answer or aborted) and no blocked one (another origin) — a broken image is a broken page.
- A flow runs its steps in order under `timeout_seconds`; each step waits at most 10 s (or what is left).
  The first failing step stops the flow; the step and the reason are reported.
- A failing page or flow gets a screenshot automatically; every flow records a Playwright trace, kept
  when the flow fails. Both go to the artifact store (signed URLs) or, from the CLI, to a local folder.
  No screenshot is ever taken of a page that is not at the app's origin (a blocked navigation leaves the
  tab on Chromium's error page): the automatic one is left out, a `screenshot` step fails.
- Timings: `domcontentloaded` and `load` from the navigation timing entry, largest contentful paint
  when Chromium reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from config.schema import FlowStep, WebEvalConfig, WebFlow, WebPage
from validators.outcome import StageOutcome
from validators.web_eval.artifacts import safe_name
from validators.web_eval.container import CHROMIUM_FLAGS, BrowserUnavailable, browser_sandbox
from validators.web_eval.origin import OriginGuard
from validators.web_eval.results import ItemResult, outcome, problems, reason

__all__ = ["CHROMIUM_FLAGS", "ItemResult", "SaveArtifact", "WebEvaluation", "evaluate", "outcome"]

log = logging.getLogger(__name__)

STEP_TIMEOUT = 10.0

#: saves an artifact and returns the link to show for it: (name, bytes) -> url or path
SaveArtifact = Callable[[str, bytes], Awaitable[str]]

_TIMINGS_JS = """() => new Promise(resolve => {
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {dcl: nav ? nav.domContentLoadedEventEnd : null, load: nav ? nav.loadEventEnd : null, lcp: null};
  try {
    new PerformanceObserver(list => {
      const entries = list.getEntries();
      if (entries.length) out.lcp = entries[entries.length - 1].startTime;
    }).observe({type: 'largest-contentful-paint', buffered: true});
  } catch (e) {}
  setTimeout(() => resolve(out), 30);
})"""


class StepFailed(Exception):
    pass


def _watch(page: Any, result: ItemResult, base: str, guard: OriginGuard) -> None:
    """Console and page errors, and failed requests to the app (another origin's are `blocked_requests`)."""

    def on_console(message: Any) -> None:
        # Chromium also logs every failed request as "Failed to load resource": those are tracked, with
        # their URL, as failed requests, so they are not counted twice (and never for /favicon.ico)
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            result.console_errors.append(message.text[:500])

    def on_response(response: Any) -> None:
        if response.status >= 400 and not _favicon(response.url) and not guard.foreign(response.url):
            result.failed_requests.append(f"{response.status} {_short(response.url, base)}")

    def on_failed(request: Any) -> None:
        if not guard.foreign(request.url):
            result.failed_requests.append(f"{request.failure or 'failed'} {_short(request.url, base)}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: result.page_errors.append(str(error)[:500]))
    page.on("response", on_response)
    page.on("requestfailed", on_failed)


def _favicon(url: str) -> bool:
    """Chromium asks for /favicon.ico on its own; a site without one is not broken."""
    return urlsplit(url).path == "/favicon.ico"


def _short(url: str, base: str) -> str:
    return url[len(base):] or "/" if url.startswith(base) else url


async def _timings(page: Any) -> dict[str, float | None]:
    try:
        raw = await page.evaluate(_TIMINGS_JS)
    except Exception:
        return {}
    return {k: (round(v, 1) if isinstance(v, int | float) else None) for k, v in raw.items()}


class WebEvaluation:
    """The pages and flows of one config, against the app at `app_url`, in the browser at `cdp_url`."""

    def __init__(self, app_url: str, config: WebEvalConfig, save: SaveArtifact, cdp_url: str,
                 max_concurrent: int = 2, on_connected: Callable[[], None] | None = None) -> None:
        self.base = app_url.rstrip("/")
        self.guard = OriginGuard(self.base)
        self.config = config
        self._save = save
        self.cdp_url = cdp_url
        self._on_connected = on_connected
        self.limit = asyncio.Semaphore(max(1, max_concurrent))

    async def save(self, name: str, data: bytes) -> str:
        return await self._save(safe_name(name), data)

    async def run(self) -> list[ItemResult]:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.connect_over_cdp(self.cdp_url, timeout=30_000)
            if self._on_connected is not None:
                self._on_connected()
            try:
                jobs = [self._page(browser, p) for p in self.config.pages]
                jobs += [self._flow(browser, f) for f in self.config.flows]
                return list(await asyncio.gather(*jobs))
            finally:
                await browser.close()

    async def _context(self, browser: Any, result: ItemResult) -> Any:
        width, height = self.config.size
        context = await browser.new_context(viewport={"width": width, "height": height}, ignore_https_errors=True,
                                            service_workers="block", accept_downloads=False)
        try:
            await self.guard.install(context, result)
        except Exception:
            await context.close()
            raise
        return context

    async def _screenshot(self, page: Any, result: ItemResult, name: str) -> None:
        """The automatic screenshot of a failure: only of a page at the app's origin."""
        if not self.guard.shows_app(page):
            return
        with contextlib.suppress(Exception):
            data = await page.screenshot(full_page=True, timeout=5_000)
            if self.guard.shows_app(page):  # (still: nothing navigated away while it was taken)
                result.screenshots.append(await self.save(f"{name}.png", data))

    async def _page(self, browser: Any, spec: WebPage) -> ItemResult:
        result = ItemResult("page", spec.path)
        async with self.limit:
            started = time.monotonic()
            context = await self._context(browser, result)
            try:
                page = await context.new_page()
                page.set_default_timeout(spec.timeout_seconds * 1000)
                _watch(page, result, self.base, self.guard)
                try:
                    response = await page.goto(urljoin(self.base + "/", spec.path.lstrip("/")), wait_until="load",
                                               timeout=spec.timeout_seconds * 1000)
                    result.status = response.status if response is not None else None
                    result.timings = await _timings(page)  # (its 30 ms wait also lets late console errors in)
                    await self._check_page(page, spec, result)
                except Exception as exc:  # navigation timeout, connection refused, a blocked redirect...
                    result.fail("load", problems(result) if result.blocked_requests else reason(exc))
                if not result.passed:
                    await self._screenshot(page, result, f"page-{spec.path}")
            finally:
                await context.close()
            result.duration = round(time.monotonic() - started, 3)
        return result

    async def _check_page(self, page: Any, spec: WebPage, result: ItemResult) -> None:
        status = result.status
        if spec.status is not None and status != spec.status:
            result.fail("status", f"HTTP {status}, expected {spec.status}")
        elif spec.status is None and (status is None or not 200 <= status < 300):
            result.fail("status", f"HTTP {status}, expected 2xx")
        if spec.selector and await page.locator(spec.selector).count() == 0:
            result.fail("selector", f"no element matches `{spec.selector}`")
        if spec.text and spec.text not in await page.inner_text("body"):
            result.fail("text", f"the text {spec.text!r} is not on the page")
        problem = problems(result)
        if problem:
            result.fail("load", problem)

    async def _flow(self, browser: Any, flow: WebFlow) -> ItemResult:
        result = ItemResult("flow", flow.name)
        async with self.limit:
            started = time.monotonic()
            context = await self._context(browser, result)
            await context.tracing.start(screenshots=True, snapshots=True)
            page = await context.new_page()
            _watch(page, result, self.base, self.guard)
            deadline = started + flow.timeout_seconds
            index = 0
            try:
                async with asyncio.timeout(flow.timeout_seconds):
                    for step in flow.steps:
                        index += 1
                        left = max(0.5, min(STEP_TIMEOUT, deadline - time.monotonic()))
                        page.set_default_timeout(left * 1000)
                        await self._step(page, step, result, flow.name)
                        if result.status is None and step.kind == "goto":
                            result.timings = await _timings(page)
            except TimeoutError:
                result.fail(_label(flow.steps[index - 1], index) if index else "start",
                            f"the flow did not finish within {flow.timeout_seconds} s")
            except StepFailed as exc:
                result.fail(_label(flow.steps[index - 1], index), str(exc))
            except Exception as exc:
                failure = problems(result) if result.blocked_requests else reason(exc)
                result.fail(_label(flow.steps[index - 1], index) if index else "start", failure)
            try:
                if not result.passed:
                    await self._screenshot(page, result, f"flow-{flow.name}-failed")
                    trace = await self._trace(context, flow.name)
                    result.trace = trace
                else:
                    await context.tracing.stop()
            finally:
                await context.close()
            result.duration = round(time.monotonic() - started, 3)
        return result

    async def _trace(self, context: Any, name: str) -> str | None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trace.zip"
            try:
                await context.tracing.stop(path=str(path))
                data = await asyncio.to_thread(path.read_bytes)
            except Exception as exc:
                log.warning("the trace of flow %r could not be kept: %s", name, reason(exc))
                return None
        return await self.save(f"flow-{name}-trace.zip", data)

    async def _step(self, page: Any, step: FlowStep, result: ItemResult, flow: str) -> None:
        kind, value = step.kind, step.value
        if kind == "goto":
            response = await page.goto(urljoin(self.base + "/", str(value).lstrip("/")), wait_until="load")
            if response is not None:
                result.status = response.status
                if response.status >= 400:
                    raise StepFailed(f"HTTP {response.status}")
        elif kind == "fill":
            await page.fill(value.selector, value.value)
        elif kind == "click":
            await page.click(value)
        elif kind == "wait_for":
            await page.wait_for_selector(value)
        elif kind == "expect_text":
            try:
                await page.get_by_text(value).first.wait_for()
            except Exception:
                raise StepFailed(f"the text {value!r} did not appear") from None
        elif kind == "expect_url":
            expected = str(value)
            try:
                await page.wait_for_url(lambda url: urlsplit(url).path == expected or url == expected)
            except Exception:
                raise StepFailed(f"the page is {_short(page.url, self.base)}, expected {expected}") from None
        elif kind == "expect_no_console_errors":
            problem = problems(result)
            if value and problem:
                raise StepFailed(problem)
        elif kind == "screenshot":
            if not self.guard.shows_app(page):
                raise StepFailed(f"the page is {page.url[:200]}, not the app: no screenshot is taken of it")
            data = await page.screenshot(full_page=True)
            result.screenshots.append(await self.save(f"flow-{flow}-{value}.png", data))
        elif kind == "press":
            if isinstance(value, str):
                await page.keyboard.press(value)
            elif value.selector:
                await page.press(value.selector, value.key)
            else:
                await page.keyboard.press(value.key)
        elif kind == "select":
            await page.select_option(value.selector, value.value)


def _label(step: FlowStep, index: int) -> str:
    value = step.value
    shown = value if isinstance(value, str | bool) else getattr(value, "selector", None) or getattr(value, "key", "")
    return f"{index}. {step.kind}: {shown}"




async def evaluate(base_url: str, config: WebEvalConfig, save: SaveArtifact, chromium_path: str = "/usr/bin/chromium",
                   max_concurrent: int = 2, *, network: str | None = None, app_host: str | None = None,
                   docker: Any = None) -> StageOutcome:
    """Evaluate the app at `base_url` in a browser container (see validators/web_eval/container.py).

    `network`/`app_host`: the snapshot's internal network and the app's name on it (the app is then
    `http://{app_host}:{port of base_url}`); without them the app is the snapshot publishing `base_url`'s
    port on 127.0.0.1. `chromium_path` is Chromium's path inside the browser image.
    """
    started = time.monotonic()
    try:
        async with browser_sandbox(base_url, chromium_path, network=network, app_host=app_host,
                                   client=docker) as sandbox:
            evaluation = WebEvaluation(sandbox.app_url, config, save, sandbox.cdp_url, max_concurrent,
                                       on_connected=sandbox.connected)
            items = await evaluation.run()
    except BrowserUnavailable as exc:
        return StageOutcome("web-eval", "failure", "web-eval: the browser could not run", f"{exc}",
                            duration=time.monotonic() - started)
    except Exception as exc:
        return StageOutcome("web-eval", "failure", "web-eval: the browser could not run",
                            f"Chromium could not be started or crashed: `{reason(exc)}`",
                            duration=time.monotonic() - started)
    return outcome(items, time.monotonic() - started)
