"""What one page or flow of a web evaluation found, and the `codegen/web-eval` check run made of them.

Decisions:
- Problems are reported in this order: a blocked request (another origin: see validators/web_eval/origin.py;
  what the page then does — an uncaught "Failed to fetch" — is its consequence), an uncaught page error, a
  failed request, a console error — the cause and the most precise first.
- Blocked requests are listed in the check's summary for every page and flow that has any, passing or not
  (at most 5 each; the rest are in the details), so a reviewer sees what the app tried to reach.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from validators.outcome import StageOutcome

MAX_CONSOLE_LINES = 20
MAX_BLOCKED_SHOWN = 5


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
    #: requests to another origin than the app's, refused (the URL, and how it was reached)
    blocked_requests: list[str] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    screenshots: list[str] = field(default_factory=list)
    trace: str | None = None
    duration: float = 0.0

    def fail(self, step: str, reason: str) -> None:
        if self.passed:
            self.passed, self.failing_step, self.reason = False, step, reason


def problems(result: ItemResult) -> str | None:
    if result.blocked_requests:  # first: what a page does with a refused request (an uncaught error) follows
        return f"blocked request (not the app's origin): {result.blocked_requests[0]}"
    if result.page_errors:
        return f"uncaught error: {result.page_errors[0]}"
    if result.failed_requests:  # before the console: Chromium logs each failed request there too, less precisely
        return f"failed request: {result.failed_requests[0]}"
    if result.console_errors:
        return f"console error: {result.console_errors[0]}"
    return None


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _table(items: list[ItemResult]) -> str:
    def ms(value: float | None) -> str:
        return f"{value:.0f} ms" if isinstance(value, int | float) else "—"

    rows = ["| | page / flow | status | DCL | load | LCP | time |", "|---|---|---|---|---|---|---|"]
    for item in items:
        mark = "✅" if item.passed else "❌"
        t = item.timings
        rows.append(f"| {mark} | {item.kind} `{item.name}` | {item.status or '—'} | {ms(t.get('dcl'))} |"
                    f" {ms(t.get('load'))} | {ms(t.get('lcp'))} | {item.duration:.1f} s |")
    return "\n".join(rows)


def _blocked(items: list[ItemResult]) -> str | None:
    lines = []
    for item in items:
        for url in item.blocked_requests[:MAX_BLOCKED_SHOWN]:
            lines.append(f"- {item.kind} `{item.name}`: `{url.replace('`', '%60')}`")
        if len(item.blocked_requests) > MAX_BLOCKED_SHOWN:
            lines.append(f"- {item.kind} `{item.name}`: {len(item.blocked_requests) - MAX_BLOCKED_SHOWN} more")
    if not lines:
        return None
    return "### Blocked requests\nOnly the app under test may be reached; these were refused:\n" + "\n".join(lines)


def outcome(items: list[ItemResult], duration: float) -> StageOutcome:
    """The `codegen/web-eval` check run's content."""
    failed = [i for i in items if not i.passed]
    parts = [_table(items)]
    for item in failed:
        lines = [f"### ❌ {item.kind} `{item.name}`", f"Failing step: `{item.failing_step}` — {item.reason}"]
        lines += [f"![{item.name}]({url})" for url in item.screenshots[:3]]
        if item.trace:
            lines.append(f"[Playwright trace]({item.trace}) (open it with `playwright show-trace`)")
        parts.append("\n\n".join(lines))
    blocked = _blocked(items)
    if blocked:
        parts.append(blocked)
    text_lines: list[str] = []
    for item in items:
        blocked_lines = [f"blocked {url}" for url in item.blocked_requests]
        for line in (item.page_errors + blocked_lines + item.console_errors + item.failed_requests)[:MAX_CONSOLE_LINES]:
            text_lines.append(f"[{item.kind} {item.name}] {line}")
    conclusion = "failure" if failed else "success"
    title = (f"web-eval: {len(failed)} of {len(items)} page(s)/flow(s) failed" if failed
             else f"web-eval: {len(items)} page(s)/flow(s) passed")
    return StageOutcome(
        "web-eval", conclusion, title, "\n\n".join(parts), text="\n".join(text_lines) or None,
        duration=duration, details={"items": [asdict(i) for i in items]},
    )
