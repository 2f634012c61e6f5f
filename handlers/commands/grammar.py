"""Slash-command grammar: a comment body → the commands it contains, in order (a pure function); and the
per-command policy table (`POLICY`): where a command works, who may run it, what agent-run state it needs.

A command is a line that starts with `/codegen` (case-insensitive, leading spaces allowed). Ignored:
quoted lines (`> ...`, so quoting someone's command never re-runs it) and fenced code blocks (``` or ~~~).

    /codegen <prompt>            START     (any text whose first word is not a sub-command)
    /codegen continue <text>     CONTINUE  (text required)
    /codegen confirm | proceed   CONFIRM   (optional extra text)
    /codegen modify <text>       MODIFY    (text required)
    /codegen cancel              CANCEL
    /codegen status              STATUS
    /codegen validate            VALIDATE  (also `/retest` alone on a line)
    /codegen ok-to-test          OK_TO_TEST
    /codegen fix [text]          FIX
    /codegen merge               MERGE
    /codegen merge cancel        MERGE_CANCEL (also `/codegen unmerge`): withdraw a merge request
    /codegen hold                HOLD      (withdraw, and put the `codegen: hold` label on)
    /codegen help                HELP

Decisions:
- The text of START, CONTINUE, MODIFY and FIX may go on over the following lines, up to the next command
  line; quoted and fenced lines there are kept as context (they are part of what the user wrote).
- `/codegen` alone, or a sub-command missing its text, is an error that names the problem.
- A single word that is not a sub-command but is close to one (`/codegen stauts`) is an error with a
  "did you mean" suggestion, rather than an agent run with the prompt "stauts". A longer text is a prompt.
- `merge cancel` is its own command (before, it parsed as `merge` with an ignored argument and *asked* for
  a merge); `merge` followed by any other words is still a merge request.
- `/codegenfoo` is not a command (the prefix must end at a space or the end of the line).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum


class CommandKind(Enum):
    START = "start"
    CONTINUE = "continue"
    CONFIRM = "confirm"
    MODIFY = "modify"
    CANCEL = "cancel"
    STATUS = "status"
    VALIDATE = "validate"
    OK_TO_TEST = "ok-to-test"
    FIX = "fix"
    MERGE = "merge"
    MERGE_CANCEL = "merge cancel"
    HOLD = "hold"
    HELP = "help"


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    argument: str
    line: int  # 1-based line of the comment


@dataclass(frozen=True)
class CommandError:
    line: int
    text: str
    message: str
    suggestion: str | None = None


SUBCOMMANDS: dict[str, CommandKind] = {
    "continue": CommandKind.CONTINUE,
    "confirm": CommandKind.CONFIRM,
    "proceed": CommandKind.CONFIRM,
    "modify": CommandKind.MODIFY,
    "cancel": CommandKind.CANCEL,
    "stop": CommandKind.CANCEL,
    "status": CommandKind.STATUS,
    "validate": CommandKind.VALIDATE,
    "retest": CommandKind.VALIDATE,
    "ok-to-test": CommandKind.OK_TO_TEST,
    "fix": CommandKind.FIX,
    "merge": CommandKind.MERGE,
    "unmerge": CommandKind.MERGE_CANCEL,
    "hold": CommandKind.HOLD,
    "help": CommandKind.HELP,
}
NEEDS_TEXT = {CommandKind.CONTINUE: "the context to add", CommandKind.MODIFY: "the change to the plan"}
TAKES_TEXT = {CommandKind.START, CommandKind.CONTINUE, CommandKind.MODIFY, CommandKind.FIX, CommandKind.CONFIRM}
NO_TEXT = {CommandKind.CANCEL, CommandKind.STATUS, CommandKind.VALIDATE, CommandKind.OK_TO_TEST,
           CommandKind.MERGE, CommandKind.MERGE_CANCEL, CommandKind.HOLD, CommandKind.HELP}

_PREFIX = re.compile(r"^\s{0,3}/codegen(?=\s|$)(.*)$", re.IGNORECASE)
_RETEST = re.compile(r"^\s{0,3}/retest\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def _lines_outside_quotes(body: str) -> list[tuple[int, str, bool]]:
    """(line number, text, is_live) for each line; live lines are neither quoted nor fenced."""
    out: list[tuple[int, str, bool]] = []
    fence: str | None = None
    for number, raw in enumerate(body.splitlines(), start=1):
        match = _FENCE.match(raw)
        if fence is not None:
            out.append((number, raw, False))
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
            continue
        if match:
            fence = match.group(1)
            out.append((number, raw, False))
            continue
        out.append((number, raw, not raw.lstrip().startswith(">")))
    return out


def _command_from(number: int, rest: str) -> Command | CommandError:
    text = rest.strip()
    if not text:
        return CommandError(number, "/codegen", "`/codegen` needs a sub-command or a request for the agent.", "help")
    first, _, tail = text.partition(" ")
    kind = SUBCOMMANDS.get(first.lower())
    tail = tail.strip()
    if kind is None:
        if " " not in text:
            close = difflib.get_close_matches(first.lower(), list(SUBCOMMANDS), n=1, cutoff=0.75)
            if close:
                return CommandError(number, f"/codegen {text}", f"`{first}` is not a command.", close[0])
        return Command(CommandKind.START, text, number)
    if kind is CommandKind.MERGE and tail.split(" ", 1)[0].lower() == "cancel":
        return Command(CommandKind.MERGE_CANCEL, tail[len("cancel"):].strip(), number)
    if kind in NO_TEXT and tail:
        return Command(kind, tail, number)  # extra words are kept, not an error: "/codegen status please"
    return Command(kind, tail, number)


def parse_commands(body: str | None) -> list[Command | CommandError]:
    """Every command of a comment, in order. Never raises."""
    if not body:
        return []
    found: list[Command | CommandError] = []
    continuation: list[str] = []

    def close_previous() -> None:
        if found and isinstance(found[-1], Command) and found[-1].kind in TAKES_TEXT and continuation:
            last = found[-1]
            extra = "\n".join(continuation).strip()
            if extra:
                found[-1] = Command(last.kind, f"{last.argument}\n{extra}".strip(), last.line)
        continuation.clear()

    for number, text, live in _lines_outside_quotes(body):
        match = _PREFIX.match(text) if live else None
        if match is None and live and _RETEST.match(text):
            close_previous()
            found.append(Command(CommandKind.VALIDATE, "", number))
            continue
        if match is None:
            continuation.append(text)
            continue
        close_previous()
        found.append(_command_from(number, match.group(1)))
    close_previous()
    return [_check_argument(item) for item in found]


def _check_argument(item: Command | CommandError) -> Command | CommandError:
    if isinstance(item, Command) and item.kind in NEEDS_TEXT and not item.argument:
        return CommandError(
            item.line, f"/codegen {item.kind.value}",
            f"`/codegen {item.kind.value}` needs {NEEDS_TEXT[item.kind]} after it.", None,
        )
    return item


class RunState(Enum):
    """What the thread's latest agent run must be for a command to act."""

    ANY = "any"
    FINISHED = "finished"  # ended with an answer (any kind): it can be resumed
    PLAN = "plan"  # ended with a proposed plan
    ACTIVE = "active"  # queued or running


@dataclass(frozen=True)
class Policy:
    #: works on pull requests only (and only while open)
    needs_pull_request: bool = False
    #: minimum permission; None = the repository's `agent.min_permission` (checked for the whole comment)
    min_permission: str | None = None
    run_state: RunState = RunState.ANY


POLICY: dict[CommandKind, Policy] = {
    CommandKind.START: Policy(),
    CommandKind.CONTINUE: Policy(run_state=RunState.FINISHED),
    CommandKind.CONFIRM: Policy(run_state=RunState.PLAN),
    CommandKind.MODIFY: Policy(run_state=RunState.PLAN),
    CommandKind.CANCEL: Policy(run_state=RunState.ACTIVE),
    CommandKind.STATUS: Policy(),
    CommandKind.HELP: Policy(),
    CommandKind.VALIDATE: Policy(needs_pull_request=True),
    # approving code to run, and merging, need write whatever `agent.min_permission` says
    CommandKind.OK_TO_TEST: Policy(needs_pull_request=True, min_permission="write"),
    CommandKind.FIX: Policy(needs_pull_request=True),
    CommandKind.MERGE: Policy(needs_pull_request=True, min_permission="write"),
    CommandKind.MERGE_CANCEL: Policy(needs_pull_request=True, min_permission="write"),
    CommandKind.HOLD: Policy(needs_pull_request=True, min_permission="write"),
}
