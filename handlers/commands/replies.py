"""Every reply the bot writes to a slash command. `HELP_TEXT` is what docs/commands.md also says.

Pure: each function returns the text; triggers and the command service post it.
"""

from __future__ import annotations

from handlers.agent.status import RunView
from handlers.commands.grammar import CommandError

HELP_TEXT = """\
**codegen-bot commands** (one per line of a comment; quoted lines and code blocks are ignored)

| command | where | what it does |
|---|---|---|
| `/codegen <request>` | issue or PR | start an agent run on Codegen with this request and the thread as context |
| `/codegen continue <text>` | thread with a finished run | resume the latest run with more context |
| `/codegen confirm` (or `proceed`) | thread whose run proposed a plan | tell the agent to go ahead with its plan |
| `/codegen modify <text>` | thread whose run proposed a plan | ask the agent to change its plan |
| `/codegen cancel` | thread with an active run | stop following the run |
| `/codegen status` | anywhere | report this thread's agent runs |
| `/codegen validate` (or `/retest`) | PR | validate the PR's head commit again |
| `/codegen ok-to-test [sha]` | PR from a fork | allow the validation of this fork's head commit (or the one named) |
| `/codegen fix [text]` | PR with a failed validation | send the failure to the agent to fix |
| `/codegen merge` | PR | merge once every required check has passed on the validated commit |
| `/codegen merge cancel` (or `unmerge`) | PR | withdraw a merge request (label, auto-merge, queue entry) |
| `/codegen hold` | PR | withdraw as above and add the `codegen: hold` label: nothing merges until it is removed |
| `/codegen help` | anywhere | this table |

Who may use them: users with at least `agent.min_permission` (default `write`) on the repository.
"""


def render_status_report(views: list[RunView]) -> str:
    if not views:
        return "No agent runs in this thread yet. Start one with `/codegen <request>`."
    lines = ["| run | requested by | state | link |", "|---|---|---|---|"]
    for view in views:
        first = view.command.strip().splitlines()[0] if view.command.strip() else ""
        short = first[:60] + ("…" if len(first) > 60 else "")
        link = f"[Codegen]({view.web_url})" if view.web_url else "—"
        lines.append(f"| #{view.run_id} `{short.replace('|', '/')}` | @{view.requested_by} | {view.label} | {link} |")
    return "**Agent runs in this thread**\n\n" + "\n".join(lines)


def render_command_error(error: CommandError) -> str:
    lines = [f"I could not run `{error.text}` (line {error.line}): {error.message}"]
    if error.suggestion and error.suggestion != "help":
        lines.append(f"Did you mean `/codegen {error.suggestion}`?")
    lines += ["", HELP_TEXT]
    return "\n".join(lines)


def render_refusal(user: str, required: str) -> str:
    return (
        f"Sorry @{user}, only users with **{required}** permission (or higher) on this repository can"
        " command me here. Ask a maintainer if you need something done."
    )


def config_errors(user: str, errors: list[str]) -> str:
    listed = "\n".join(f"- {err}" for err in errors)
    return f"@{user} I can't act on commands here: `.github/codegen.yml` has errors.\n\n{listed}"


def not_available(name: str) -> str:
    return f"`/codegen {name}` is not available on this bot yet."


def failed(name: str, delivery_id: str | None) -> str:
    return (
        f"Something went wrong while running `/codegen {name}`; it was logged"
        f" (delivery `{delivery_id}`). Try again in a minute."
    )


def needs_permission(user: str, name: str, required: str) -> str:
    """`required` describes the rule: "`write` permission", "membership of `@org/team`"."""
    return f"@{user} `/codegen {name}` needs {required} on this repository."


def render_rule_refusal(user: str, required: str) -> str:
    """None of the commands in the comment is open to the user; `required` describes the first one's rule."""
    return (
        f"Sorry @{user}, these commands need {required} on this repository. Ask a maintainer if you need"
        " something done."
    )


def pull_requests_only(name: str) -> str:
    return f"`/codegen {name}` works on pull requests only."


def pull_closed(name: str) -> str:
    return f"This pull request is closed; `/codegen {name}` does nothing."


def no_run(name: str) -> str:
    return f"There is no agent run in this thread to {name}. Start one with `/codegen <what to do>`."


def run_still_working(name: str) -> str:
    return (
        f"The agent run is still working; wait for its answer before `/codegen {name}`"
        " (or `/codegen cancel` it)."
    )


def run_not_resumable(status: str) -> str:
    return (
        f"The latest agent run ended as **{status}**, so it cannot be resumed."
        " Start a new one with `/codegen <what to do>`."
    )


def no_plan(name: str) -> str:
    return (
        f"`/codegen {name}` answers a proposed plan, and the latest run did not propose one."
        " Use `/codegen continue <more context>` instead."
    )


NO_ACTIVE_RUN = "There is no active agent run in this thread to cancel."


def merge_waiting(user: str, notice: str) -> str:
    return f"@{user} {notice} I will merge it when that changes."


def to_user(user: str, text: str) -> str:
    return f"@{user} {text}"


NOT_A_SHA = "`/codegen ok-to-test <sha>` takes a commit SHA (7 to 40 hexadecimal digits); nothing was approved."


def not_the_head(head: str, sha: str) -> str:
    return f"The head of this pull request is `{head[:12]}`, not `{sha}`; nothing was approved."


def head_moved(head: str) -> str:
    return (
        f"New commits arrived after your comment (the head is now `{head[:12]}`), so nothing was approved."
        f" To run exactly this commit, comment `/codegen ok-to-test {head[:12]}`."
    )
