"""What each accepted slash command does, once `decide` (handlers/commands/decide.py) said `Act`.

`perform(act, call)` runs the command's effect through the feature services and posts the reply, if any.
Every command gets an answer: an action whose result the thread sees (a status comment, check runs), or
a reply. Codegen has no endpoint to stop a run: `cancel` stops following it, and the agent may still
finish its current step.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.github import comments
from bot.store.agent_runs import AgentRunRecord
from config.loader import LoadedConfig
from config.schema import RepoConfig
from handlers.agent.status import status_view
from handlers.commands import replies
from handlers.commands.conversation import Conversation, Written
from handlers.commands.decide import Act
from handlers.commands.grammar import CommandKind
from handlers.commands.help import USAGE, HelpFacts, render_help
from handlers.commands.permissions import TeamMembership, rule_for
from handlers.context import EventContext
from handlers.validation.triggers import validate_pr


@dataclass(frozen=True)
class CommandCall:
    """One accepted command, with what was gathered for it once (the PR, the config, the latest run)."""

    ctx: EventContext
    conversation: Conversation
    user: str
    comment_id: int
    loaded: LoadedConfig
    #: the thread's pull request as fetched for this event (None for an issue)
    pull: dict[str, Any] | None
    latest_run: AgentRunRecord | None
    #: where the command was written (the bot answers there)
    written: Written | None = None
    #: when the comment was written (epoch seconds)
    written_at: float = 0.0
    #: the command's position in the text (with the comment, its identity: see `command_key`)
    index: int = 0

    @property
    def config(self) -> RepoConfig:
        assert self.loaded.config is not None
        return self.loaded.config

    @property
    def command_key(self) -> str | None:
        """This command's identity (an agent run is recorded once per key; its answer is posted once)."""
        return self.written.command_key(self.index) if self.written is not None else None

    async def reply(self, body: str) -> dict[str, Any]:
        c = self.conversation
        if self.written is not None:
            return await self.written.reply(self.ctx.gh, c, body, self.index)
        return await comments.post(self.ctx.gh, c.owner, c.repo, c.number, body)


Action = Callable[[CommandCall, str], Awaitable[None]]


async def start(call: CommandCall, argument: str) -> None:
    c = call.conversation
    await call.ctx.services.agent.start(
        repo=c.full_name, number=c.number, thread_kind=c.kind, installation_id=call.ctx.installation_id,
        command=argument, requested_by=call.user, command_comment_id=call.comment_id, command_key=call.command_key,
    )


def _resume(kind: str) -> Action:
    async def resume(call: CommandCall, argument: str) -> None:
        assert call.latest_run is not None  # decide() saw a finished run
        await call.ctx.services.agent.resume(call.latest_run, kind, argument, call.user)

    return resume


async def cancel(call: CommandCall, argument: str) -> None:
    assert call.latest_run is not None  # decide() saw an active run
    await call.ctx.services.agent.cancel(call.latest_run, call.user)


async def status(call: CommandCall, argument: str) -> None:
    services = call.ctx.services
    runs = await services.agent_runs.conversation_runs(call.conversation.full_name, call.conversation.number)
    now = time.time()
    await call.reply(replies.render_status_report(
        [status_view(run, now, services.settings.agent_run_stale_minutes) for run in runs]
    ))


async def show_help(call: CommandCall, argument: str) -> None:
    """The commands this user may run here, with an example each (handlers/commands/help.py)."""
    c = call.conversation
    permission = await call.ctx.permission(c.owner, c.repo, call.user)
    teams = TeamMembership(call.ctx.gh, call.user)
    rules = {kind: rule_for(kind, call.config.agent) for kind in USAGE}
    allowed = {kind: await teams.allows(rule, permission) for kind, rule in rules.items()}
    facts = HelpFacts(call.user, permission, allowed, {k: r.describe() for k, r in rules.items()})
    await call.reply(render_help(facts, call.config))


async def validate(call: CommandCall, argument: str) -> None:
    assert call.pull is not None
    await validate_pr(call.ctx, call.conversation.full_name, call.pull, "command")


async def ok_to_test(call: CommandCall, argument: str) -> None:
    """Approve the PR's current head SHA for running, then validate it."""
    assert call.pull is not None
    await call.ctx.services.validation.store.approve(call.conversation.full_name, call.pull["head"]["sha"], call.user)
    await validate_pr(call.ctx, call.conversation.full_name, call.pull, "command")


async def merge(call: CommandCall, argument: str) -> None:
    """Ask for a merge; answer at once with what it waits for when it is not ready."""
    assert call.pull is not None
    notice = await call.ctx.services.merge.request(
        call.ctx.gh, call.conversation.full_name, call.pull, call.loaded, call.user, call.ctx.installation_id
    )
    if notice is not None:
        await call.reply(replies.merge_waiting(call.user, notice))


def _withdraw(hold: bool) -> Action:
    async def withdraw(call: CommandCall, argument: str) -> None:
        """`/codegen merge cancel` and `/codegen hold`: take back every pending merge; say what was taken."""
        assert call.pull is not None
        answer = await call.ctx.services.merge.withdraw(
            call.ctx.gh, call.conversation.full_name, call.pull, call.loaded, call.user, hold=hold)
        await call.reply(answer)

    return withdraw


async def fix(call: CommandCall, argument: str) -> None:
    assert call.pull is not None
    outcome = await call.ctx.services.auto_fix.fix_requested(
        call.ctx.gh, repo=call.conversation.full_name, pr=call.pull, installation_id=call.ctx.installation_id,
        user=call.user, extra=argument, command_comment_id=call.comment_id, command_key=call.command_key,
    )
    await call.reply(replies.to_user(call.user, outcome))


ACTIONS: dict[CommandKind, Action] = {
    CommandKind.START: start,
    CommandKind.CONTINUE: _resume("continue"),
    CommandKind.CONFIRM: _resume("confirm"),
    CommandKind.MODIFY: _resume("modify"),
    CommandKind.CANCEL: cancel,
    CommandKind.STATUS: status,
    CommandKind.HELP: show_help,
    CommandKind.VALIDATE: validate,
    CommandKind.OK_TO_TEST: ok_to_test,
    CommandKind.MERGE: merge,
    CommandKind.MERGE_CANCEL: _withdraw(hold=False),
    CommandKind.HOLD: _withdraw(hold=True),
    CommandKind.FIX: fix,
}


async def perform(act: Act, call: CommandCall) -> None:
    action = ACTIONS.get(act.kind)
    if action is None:
        await call.reply(replies.not_available(act.kind.value))
        return
    await action(call, act.argument)
