"""The agent run's status comment, as the thread sees it (the replies to commands are in handlers/commands/replies.py).

Every status comment starts with the hidden marker `<!-- codegen-bot:run:{id} -->`, so the bot (and anyone
reading the raw comment) can tell which run it belongs to; the comment is edited in place as the run moves.
Texts never contain credentials: only what the store holds about the run.
"""

from __future__ import annotations

from handlers.agent.answer import extract_plan
from handlers.agent.status import RunView

MAX_RESULT_CHARS = 3_000
MAX_PLAN_CHARS = 6_000
MAX_COMMAND_CHARS = 300


def marker(run_id: int) -> str:
    return f"<!-- codegen-bot:run:{run_id} -->"


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _truncate(text: str, limit: int) -> tuple[str, bool]:
    text = text.strip()
    if len(text) <= limit:
        return text, False
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "\n\n…", True


def _quote(text: str) -> str:
    short, _ = _truncate(text, MAX_COMMAND_CHARS)
    return "\n".join(f"> {line}" for line in short.splitlines() or [""])


def _link(view: RunView, text: str = "the run on Codegen") -> str:
    return f"[{text}]({view.web_url})" if view.web_url else text


def _body(view: RunView) -> list[str]:
    if view.status == "queued":
        return ["Starting the agent run on Codegen…"]
    if view.status == "running":
        where = f" — follow {_link(view)}" if view.web_url else ""
        state = f" (Codegen: `{view.codegen_status}`)" if view.codegen_status else ""
        return [f"The agent is working: {_duration(view.elapsed_seconds)} so far{state}{where}."]
    if view.status == "stale":
        return [
            f"No progress seen for more than {view.stale_minutes} minutes, so I stopped following this run."
            f" It may still be working: see {_link(view)}. Start a new one with `/codegen <request>`.",
        ]
    if view.status == "cancelled":
        return [
            f"{view.error or 'Cancelled'}. I no longer follow this run; the agent may still finish the step"
            f" it is on ({_link(view)}). Start a new one with `/codegen <request>`.",
        ]
    if view.status == "failed":
        return [
            f"**The agent run failed.** {view.error or ''}".rstrip(),
            "",
            f"Retry with `/codegen <request>`{' — details on ' + _link(view) if view.web_url else ''}.",
        ]
    return _finished(view)


def _finished(view: RunView) -> list[str]:
    took = f"Finished in {_duration(view.elapsed_seconds)} — {_link(view, 'full run on Codegen')}."
    if view.answer_kind == "pr":
        lines = [took, "", "**Pull requests:**"]
        for pr in view.prs:
            title = pr.get("title") or pr.get("url")
            lines.append(f"- [{title}]({pr.get('url')})")
        lines += ["", "Each pull request is validated in a snapshot next; results appear as its check runs."]
        return lines
    if view.answer_kind == "plan":
        plan, cut = _truncate(extract_plan(view.result), MAX_PLAN_CHARS)
        lines = [took, "", "**The agent proposes a plan:**", "", plan]
        if cut:
            lines.append(f"(plan shortened; full text on {_link(view)})")
        lines += [
            "",
            "Reply `/codegen confirm` to go ahead, or `/codegen modify <what to change>` to change the plan.",
        ]
        return lines
    result, cut = _truncate(view.result or "(no text)", MAX_RESULT_CHARS)
    lines = [took, "", result]
    if cut:
        lines.append(f"(answer shortened; full text on {_link(view)})")
    lines += ["", "Reply `/codegen continue <more context>` to go on from here."]
    return lines


def render_status(view: RunView) -> str:
    head = [
        marker(view.run_id),
        f"**Codegen agent run** — {view.label}",
        "",
        f"@{view.requested_by} asked:",
        _quote(view.command),
        "",
    ]
    if view.fix_attempt is not None:
        head += [f"Fix attempt {view.fix_attempt} for this pull request's failed validation.", ""]
    return "\n".join(head + _body(view)).rstrip() + "\n"
