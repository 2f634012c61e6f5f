"""THE template of the error context sent to the agent when a validation fails (auto-fix, the "Fix with
Codegen" button, `/codegen fix`). One place, so every path sends the same thing.

Order — most specific first, so that truncation drops the least useful part:

1. what to do (fix the failure, push to the PR's branch) and any extra instructions from the user;
2. per failing stage (stages in pipeline order): the failing step's command, exit status or timeout, and
   the tail of its log (the last `LOG_TAIL_CHARS` characters: the end of a log is where the error is);
3. the annotations (file:line: message), failures before warnings;
4. web-evaluation failures: the page or flow, the failing step and reason, console errors, screenshot URLs.

The whole context is bounded by `MAX_CONTEXT_CHARS` (12,000 characters): sections are added in the order
above while they fit; a section that does not fit is cut and marked `…(truncated)`.

Everything the code under test produced (log tails, annotation messages, browser errors) is fenced as
untrusted data (handlers/agent/untrusted.py): a failing test cannot write the agent's instructions.
"""

from __future__ import annotations

from typing import Any

from handlers.agent.untrusted import NOTICE, fence, new_tag

MAX_CONTEXT_CHARS = 12_000
LOG_TAIL_CHARS = 3_000
MAX_ANNOTATIONS = 40
STAGE_ORDER = ("build", "test", "deploy", "analysis", "web-eval")


def _stage_section(stage: str, outcome: dict[str, Any], tag: str) -> str:
    lines = [f"### Stage `{stage}`: {outcome.get('conclusion')} — {outcome.get('title', '')}"]
    steps = outcome.get("steps") or []
    failing = outcome.get("failing_step")
    if failing is not None and 0 <= failing < len(steps):
        step = steps[failing]
        status = "timed out" if step.get("timed_out") else f"exit status {step.get('exit_code')}"
        if step.get("oom_killed"):
            status += " (killed: out of memory)"
        tail = (step.get("output_tail") or "")[-LOG_TAIL_CHARS:]
        lines += [f"Command: `{step.get('command')}` — {status}", fence("log tail", tail.rstrip(), tag)]
    elif outcome.get("text"):
        lines.append(fence("output", str(outcome["text"])[-LOG_TAIL_CHARS:].rstrip(), tag))
    return "\n".join(lines)


def _annotation_lines(report: dict[str, Any]) -> list[str]:
    annotations = [a for outcome in report.get("outcomes", {}).values() for a in outcome.get("annotations") or []]
    annotations.sort(key=lambda a: (a.get("level") != "failure", a.get("path", ""), a.get("start_line", 0)))
    return [
        f"- {a.get('path')}:{a.get('start_line')}: [{a.get('level')}] {a.get('title', '')}: {a.get('message', '')}"
        for a in annotations[:MAX_ANNOTATIONS]
    ]


def _web_lines(report: dict[str, Any]) -> list[str]:
    web = (report.get("outcomes") or {}).get("web-eval") or {}
    lines = []
    for item in (web.get("details") or {}).get("results") or []:
        if item.get("passed"):
            continue
        line = (
            f"- {item.get('kind', 'page')} `{item.get('name')}`:"
            f" step `{item.get('failing_step')}` — {item.get('reason')}"
        )
        for error in (item.get("console_errors") or [])[:5]:
            line += f"\n  console: {error}"
        for url in item.get("screenshots") or []:
            line += f"\n  screenshot: {url}"
        lines.append(line)
    return lines


def render_fix_context(report: dict[str, Any], *, branch: str | None, extra: str = "") -> str:
    """The fix prompt for a failed validation report (as stored: `ValidationReport.to_json()`)."""
    tag = new_tag()
    head = [
        f"The validation of commit {str(report.get('sha', ''))[:12]} failed. Fix the cause and push the fix"
        + (f" to the branch `{branch}` of this pull request." if branch else "."),
        NOTICE,
    ]
    if extra.strip():
        head.append(f"Extra instructions from the reviewer: {extra.strip()}")
    sections = ["\n".join(head)]
    outcomes = report.get("outcomes") or {}
    for stage in STAGE_ORDER:
        outcome = outcomes.get(stage)
        if outcome and outcome.get("conclusion") in ("failure", "timed_out") and stage != "web-eval":
            sections.append(_stage_section(stage, outcome, tag))
    annotations = _annotation_lines(report)
    if annotations:
        sections.append("### Annotations\n" + fence("annotations", "\n".join(annotations), tag))
    web = _web_lines(report)
    if web:
        sections.append("### Web evaluation failures\n" + fence("browser results", "\n".join(web), tag))
    out = ""
    for section in sections:
        piece = ("\n\n" if out else "") + section
        if len(out) + len(piece) <= MAX_CONTEXT_CHARS:
            out += piece
            continue
        room = MAX_CONTEXT_CHARS - len(out) - len("\n…(truncated)")
        if room > 200:
            out += piece[:room] + "\n…(truncated)"
        break
    return out
