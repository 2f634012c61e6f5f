"""Slash commands wherever people write them on GitHub:

- `issue_comment` created (issues and pull requests);
- `pull_request_review_comment` created (a comment on a line of the diff): answered in its review thread;
- `pull_request_review` submitted (the review's body): answered on the pull request.

Flow: ignore bots and texts without a command line; read the repo config (the PR's base branch, or the
default branch for an issue); check the author against each command's rule (`agent.permissions`, else
`agent.min_permission`: handlers/commands/permissions.py). A user who may run none of the text's commands
gets 😕 and one polite reply — at most one refusal reply per user per thread per 10 minutes, whatever they
write (a refused command among allowed ones counts too); accepted text gets 👀 at once (a review body has
no reactions), then each command in order is decided (handlers/commands/decide.py, pure) from facts
gathered here, and performed or answered (a refusal past the window is answered with 😕 alone). Every
command gets an answer: an action, a reply, or an error reply that shows `help`. Edited comments are not
re-run (only creation is routed here). The pull request is fetched once for the whole text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.store.agent_runs import AgentRunRecord
from config.schema import AgentConfig
from handlers.commands import replies
from handlers.commands.conversation import Conversation, Written, from_pull_request_event, is_bot
from handlers.commands.decide import Act, Facts, LatestRun, decide
from handlers.commands.grammar import POLICY, Command, CommandError, CommandKind, RunState, parse_commands
from handlers.commands.permissions import Rule, TeamMembership, rule_for
from handlers.commands.service import CommandCall, perform
from handlers.context import EventContext

router = routing.Router()
log = logging.getLogger(__name__)


@router.register("issue_comment", action="created")
async def on_comment(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    comment = event.data["comment"]
    written = Written("issue_comment", int(comment["id"]), comment.get("user") or {}, comment.get("body") or "",
                      comment.get("created_at"))
    await handle(ctx, Conversation.from_issue_comment(event.data), written)


@router.register("pull_request_review_comment", action="created")
async def on_review_comment(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    comment = event.data["comment"]
    written = Written("review_comment", int(comment["id"]), comment.get("user") or {},
                      comment.get("body") or "", comment.get("created_at"))
    await handle(ctx, from_pull_request_event(event.data), written)


@router.register("pull_request_review", action="submitted")
async def on_review(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    review = event.data["review"]
    written = Written("review", int(review["id"]), review.get("user") or {}, review.get("body") or "",
                      review.get("submitted_at"))
    await handle(ctx, from_pull_request_event(event.data), written)


async def handle(ctx: EventContext, c: Conversation, written: Written) -> None:
    """The commands of one text: gate on config and permission, react, then answer each in order."""
    if is_bot(written.author):
        return
    commands = parse_commands(written.body)
    if not commands:
        return
    user, gh = written.user, ctx.gh
    pull = await ctx.pull_request(c.owner, c.repo, c.number) if c.is_pull_request else None
    loaded = await ctx.repo_config(c.owner, c.repo, pull["base"]["ref"] if pull is not None else None)
    if loaded.config is None:
        await written.react(gh, c, "confused")
        await written.reply(gh, c, replies.config_errors(user, [str(e) for e in loaded.errors]), "refused")
        return
    permission = await ctx.permission(c.owner, c.repo, user)
    rules = [_rule(command, loaded.config.agent) for command in commands]
    teams = TeamMembership(gh, user)
    allowed = [await teams.allows(rule, permission) for rule in rules]
    if not any(allowed):
        await written.react(gh, c, "confused")
        if await ctx.services.refusals.may_reply(c.full_name, c.number, user):
            await written.reply(gh, c, replies.render_rule_refusal(user, rules[0].describe()), "refused")
        return
    await written.react(gh, c, "eyes")
    for index, command in enumerate(commands):
        call = CommandCall(ctx=ctx, conversation=c, user=user, comment_id=written.id, loaded=loaded, pull=pull,
                           latest_run=await _latest_run(ctx, c, command), written=written,
                           written_at=written.written_at(time.time()), index=index)
        await _answer(call, command, permission, allowed[index], rules[index].describe())


def _rule(command: Command | CommandError, agent: AgentConfig) -> Rule:
    """A command's rule; a text that is not a valid command needs what commanding the bot at all needs."""
    if isinstance(command, CommandError):
        return Rule(permission=agent.min_permission)
    return rule_for(command.kind, agent)


async def _latest_run(
    ctx: EventContext, c: Conversation, command: Command | CommandError
) -> AgentRunRecord | None:
    if isinstance(command, CommandError) or POLICY[command.kind].run_state is RunState.ANY:
        return None
    runs = await ctx.services.agent_runs.conversation_runs(c.full_name, c.number)
    return runs[-1] if runs else None


async def _answer(call: CommandCall, command: Command | CommandError, permission: str, permitted: bool,
                  requirement: str) -> None:
    run = call.latest_run
    facts = Facts(
        user=call.user,
        permission=permission,
        permitted=permitted,
        requirement=requirement,
        is_pull_request=call.conversation.is_pull_request,
        pull_open=call.pull is not None and call.pull.get("state") == "open",
        latest_run=None if run is None else LatestRun(
            active=run.active, status=run.status, on_codegen=run.codegen_run_id is not None,
            answer_kind=run.answer_kind,
        ),
    )
    if isinstance(command, Command) and command.kind is CommandKind.OK_TO_TEST and call.pull is not None:
        facts = replace(facts, head_sha=call.pull["head"]["sha"],
                        head_moved_since_comment=await _head_moved(call))
    outcome = decide(command, facts)
    if not isinstance(outcome, Act):
        c = call.conversation
        if not outcome.refusal or await call.ctx.services.refusals.may_reply(c.full_name, c.number, call.user):
            await call.reply(outcome.text)
        elif call.written is not None:  # refused again within the window: 😕 answers it, no new comment
            await call.written.react(call.ctx.gh, c, "confused")
        return
    try:
        await perform(outcome, call)
    except Exception:
        log.exception("command %s failed", outcome.kind.value)
        await call.reply(replies.failed(outcome.kind.value, call.ctx.delivery_id))


async def _head_moved(call: CommandCall) -> bool:
    """Did the bot first see the current head after the comment was written?"""
    assert call.pull is not None
    seen = await call.ctx.services.validation.store.first_seen(call.conversation.full_name, call.pull["head"]["sha"])
    # GitHub stamps comments to the second: a head first seen within that second is not "after" it
    return seen is not None and seen > call.written_at + 1.0
