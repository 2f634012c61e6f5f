"""What a slash command does, decided from facts gathered beforehand: a pure function, no I/O.

`decide(command, facts)` answers either `Act` (perform the command: handlers/commands/service.py) or
`Reply` (say why not, or what is wrong with the command). The rules come from the policy table in
handlers/commands/grammar.py, checked in this order: permission (the command's rule, evaluated beforehand
by handlers/commands/permissions.py: `Facts.permitted`), pull request (open), agent-run state.
Agent-run commands act on the thread's *latest* run:
- `continue <text>`: the latest run must have finished (any answer); it is resumed with the text.
- `confirm` / `proceed` and `modify <text>`: the latest run must have finished with a **plan**.
- `cancel`: the latest run must be active (queued or running).

`ok-to-test` approves exactly one commit: the head named by `/codegen ok-to-test <sha>`, or, without a
SHA, the head that was current when the comment was written; when the bot saw the head change after the
comment, it approves nothing and asks for the SHA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.agent.answer import AnswerKind
from handlers.commands import replies
from handlers.commands.grammar import POLICY, Command, CommandError, CommandKind, RunState

_SHA = re.compile(r"[0-9a-f]{7,40}")


@dataclass(frozen=True)
class LatestRun:
    """The thread's latest agent run, as far as commands care."""

    active: bool
    status: str
    #: created on Codegen (it has a Codegen run id), so it can be resumed
    on_codegen: bool
    answer_kind: str | None


@dataclass(frozen=True)
class Facts:
    user: str
    permission: str
    is_pull_request: bool
    #: the pull request is open (False for an issue)
    pull_open: bool
    latest_run: LatestRun | None
    #: the pull request's current head (None for an issue)
    head_sha: str | None = None
    #: the bot first saw the current head after the comment was written
    head_moved_since_comment: bool = False
    #: the user meets this command's rule (handlers/commands/permissions.py), and what the rule is
    permitted: bool = True
    requirement: str = ""


@dataclass(frozen=True)
class Act:
    kind: CommandKind
    argument: str


@dataclass(frozen=True)
class Reply:
    text: str
    #: the user may not run the command (such replies are rate-limited per user and thread)
    refusal: bool = False


def decide(command: Command | CommandError, facts: Facts) -> Act | Reply:
    if isinstance(command, CommandError):
        return Reply(replies.render_command_error(command))
    name = command.kind.value
    policy = POLICY[command.kind]
    if not facts.permitted:
        return Reply(replies.needs_permission(facts.user, name, facts.requirement), refusal=True)
    if policy.needs_pull_request:
        if not facts.is_pull_request:
            return Reply(replies.pull_requests_only(name))
        if not facts.pull_open:
            return Reply(replies.pull_closed(name))
    refusal = _run_state_refusal(name, policy.run_state, facts.latest_run)
    if refusal is None and command.kind is CommandKind.OK_TO_TEST:
        refusal = _approval_refusal(command.argument.strip().lower(), facts)
    if refusal is not None:
        return Reply(refusal)
    return Act(command.kind, command.argument)


def _approval_refusal(sha: str, facts: Facts) -> str | None:
    head = facts.head_sha or ""
    if sha:
        if not _SHA.fullmatch(sha):
            return replies.NOT_A_SHA
        return None if head.startswith(sha) else replies.not_the_head(head, sha)
    return replies.head_moved(head) if facts.head_moved_since_comment else None


def _run_state_refusal(name: str, needed: RunState, run: LatestRun | None) -> str | None:
    if needed is RunState.ANY:
        return None
    if needed is RunState.ACTIVE:
        return None if run is not None and run.active else replies.NO_ACTIVE_RUN
    if run is None:
        return replies.no_run(name)
    if run.active:
        return replies.run_still_working(name)
    if run.status != "finished" or not run.on_codegen:
        return replies.run_not_resumable(run.status)
    if needed is RunState.PLAN and run.answer_kind != AnswerKind.PLAN.value:
        return replies.no_plan(name)
    return None
