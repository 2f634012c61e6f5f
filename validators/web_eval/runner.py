"""Check the deployed app in Chromium: every `web_eval.pages` entry and every `web_eval.flows` flow.

Decisions:
- One browser per validation, one browser context per page and per flow (no shared cookies or storage).
- Chromium's own request for `/favicon.ico` is not the page's: its 404 is ignored.
- A page passes when its HTTP status matches (`status`, default any 2xx), its `text` and `selector` are
  present, and nothing went wrong while it loaded: no console error, no uncaught page error, no failed
  request (4xx/5xx answer or aborted) — a broken image is a broken page.
- A flow runs its steps in order under `timeout_seconds`; each step waits at most 10 s (or what is left).
  The first failing step stops the flow; the step and the reason are reported.
- A failing page or flow gets a screenshot automatically; every flow records a Playwright trace, kept
  when the flow fails. Both go to the artifact store (signed URLs) or, from the CLI, to a local folder.
- Timings: `domcontentloaded` and `load` from the navigation timing entry, largest contentful paint
  when Chromium reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from config.schema import FlowStep, WebEvalConfig, WebFlow, WebPage
from validators.outcome import StageOutcome
from validators.web_eval.artifacts import safe_name

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
]
STEP_TIMEOUT = 10.0
MAX_CONSOLE_LINES = 20

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


@dataclass
class ItemResult:
    kind: str  # "page" | "flow"
    name: str
    passed: bool = True
    failing_step: str | None = None
    reason: str | None = None
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    screenshots: list[str] = field(default_factory=list)
    trace: str | None = None
    duration: float = 0.0

    def fail(self, step: str, reason: str) -> None:
        if self.passed:
            self.passed, self.failing_step, self.reason = False, step, reason


def _watch(page: Any, result: ItemResult, base: str) -> None:
    def on_console(message: Any) -> None:
        # Chromium also logs every failed request as "Failed to load resource": those are tracked, with
        # their URL, as failed requests, so they are not counted twice (and never for /favicon.ico)
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            result.console_errors.append(message.text[:500])

    def on_response(response: Any) -> None:
        if response.status >= 400 and not _favicon(response.url):
            result.failed_requests.append(f"{response.status} {_short(response.url, base)}")

    def on_failed(request: Any) -> None:
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


def _problems(result: ItemResult) -> str | None:
    if result.page_errors:
        return f"uncaught error: {result.page_errors[0]}"
    if result.failed_requests:  # before the console: Chromium logs each failed request there too, less precisely
        return f"failed request: {result.failed_requests[0]}"
    if result.console_errors:
        return f"console error: {result.console_errors[0]}"
    return None


class WebEvaluation:
    def __init__(self, base_url: str, config: WebEvalConfig, save: SaveArtifact, chromium_path: str,
                 max_concurrent: int = 2) -> None:
        self.base = base_url.rstrip("/")
        self.config = config
        self._save = save
        self.chromium_path = chromium_path
        self.limit = asyncio.Semaphore(max(1, max_concurrent))

    async def save(self, name: str, data: bytes) -> str:
        return await self._save(safe_name(name), data)

    async def run(self) -> list[ItemResult]:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=self.chromium_path, args=CHROMIUM_FLAGS,
                                                       headless=True)
            try:
                jobs = [self._page(browser, p) for p in self.config.pages]
                jobs += [self._flow(browser, f) for f in self.config.flows]
                return list(await asyncio.gather(*jobs))
            finally:
                await browser.close()

    async def _context(self, browser: Any) -> Any:
        width, height = self.config.size
        return await browser.new_context(viewport={"width": width, "height": height}, ignore_https_errors=True)

    async def _screenshot(self, page: Any, result: ItemResult, name: str) -> None:
        with contextlib.suppress(Exception):
            data = await page.screenshot(full_page=True, timeout=5_000)
            result.screenshots.append(await self.save(f"{name}.png", data))

    async def _page(self, browser: Any, spec: WebPage) -> ItemResult:
        result = ItemResult("page", spec.path)
        async with self.limit:
            started = time.monotonic()
            context = await self._context(browser)
            try:
                page = await context.new_page()
                page.set_default_timeout(spec.timeout_seconds * 1000)
                _watch(page, result, self.base)
                try:
                    response = await page.goto(urljoin(self.base + "/", spec.path.lstrip("/")), wait_until="load",
                                               timeout=spec.timeout_seconds * 1000)
                    result.status = response.status if response is not None else None
                    result.timings = await _timings(page)  # (its 30 ms wait also lets late console errors in)
                    await self._check_page(page, spec, result)
                except Exception as exc:  # navigation timeout, connection refused, ...
                    result.fail("load", _reason(exc))
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
        problem = _problems(result)
        if problem:
            result.fail("load", problem)

    async def _flow(self, browser: Any, flow: WebFlow) -> ItemResult:
        result = ItemResult("flow", flow.name)
        async with self.limit:
            started = time.monotonic()
            context = await self._context(browser)
            await context.tracing.start(screenshots=True, snapshots=True)
            page = await context.new_page()
            _watch(page, result, self.base)
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
                result.fail(_label(flow.steps[index - 1], index) if index else "start", _reason(exc))
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
            except Exception:
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
            problem = _problems(result)
            if value and problem:
                raise StepFailed(problem)
        elif kind == "screenshot":
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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def outcome(items: list[ItemResult], duration: float) -> StageOutcome:
    """The `codegen/web-eval` check run's content."""
    failed = [i for i in items if not i.passed]

    def ms(value: float | None) -> str:
        return f"{value:.0f} ms" if isinstance(value, int | float) else "—"

    rows = ["| | page / flow | status | DCL | load | LCP | time |", "|---|---|---|---|---|---|---|"]
    for item in items:
        mark = "✅" if item.passed else "❌"
        t = item.timings
        rows.append(f"| {mark} | {item.kind} `{item.name}` | {item.status or '—'} | {ms(t.get('dcl'))} |"
                    f" {ms(t.get('load'))} | {ms(t.get('lcp'))} | {item.duration:.1f} s |")
    parts = ["\n".join(rows)]
    for item in failed:
        lines = [f"### ❌ {item.kind} `{item.name}`", f"Failing step: `{item.failing_step}` — {item.reason}"]
        lines += [f"![{item.name}]({url})" for url in item.screenshots[:3]]
        if item.trace:
            lines.append(f"[Playwright trace]({item.trace}) (open it with `playwright show-trace`)")
        parts.append("\n\n".join(lines))
    text_lines: list[str] = []
    for item in items:
        for line in (item.page_errors + item.console_errors + item.failed_requests)[:MAX_CONSOLE_LINES]:
            text_lines.append(f"[{item.kind} {item.name}] {line}")
    conclusion = "failure" if failed else "success"
    title = (f"web-eval: {len(failed)} of {len(items)} page(s)/flow(s) failed" if failed
             else f"web-eval: {len(items)} page(s)/flow(s) passed")
    return StageOutcome(
        "web-eval", conclusion, title, "\n\n".join(parts), text="\n".join(text_lines) or None,
        duration=duration, details={"items": [asdict(i) for i in items]},
    )


async def evaluate(base_url: str, config: WebEvalConfig, save: SaveArtifact, chromium_path: str,
                   max_concurrent: int = 2) -> StageOutcome:
    started = time.monotonic()
    try:
        items = await WebEvaluation(base_url, config, save, chromium_path, max_concurrent).run()
    except Exception as exc:
        return StageOutcome("web-eval", "failure", "web-eval: the browser could not run",
                            f"Chromium could not be started or crashed: `{_reason(exc)}`",
                            duration=time.monotonic() - started)
    return outcome(items, time.monotonic() - started)
