"""`issue_comment` created: slash commands from issues and pull requests.

Flow: ignore bots and comments without a command line; read the repo config (the PR's base branch, or the
default branch for an issue); check the commenter's permission against `agent.min_permission`. A refused
user gets 😕 and one polite reply; an accepted comment gets 👀 at once, then each command runs in order.
Every command gets an answer: an action, a reply, or an error reply that shows `help`. Edited comments are
not re-run (only `created` is routed here).
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import routing, sansio

from bot import issue_comments
from bot.context import Context
from handlers.command_actions import ACTIONS
from handlers.command_call import CommandCall
from handlers.messages.run_status import render_command_error, render_refusal
from handlers.rules.commands import Command, CommandError, parse_commands
from handlers.rules.permissions import permission_at_least
from handlers.thread import Thread, is_bot

router = routing.Router()
log = logging.getLogger(__name__)


async def _base_ref(gh: Any, thread: Thread) -> str | None:
    if not thread.is_pull_request:
        return None  # the default branch
    pr = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        {"owner": thread.owner, "repo": thread.repo, "pull_number": thread.number},
    )
    return str(pr["base"]["ref"])


@router.register("issue_comment", action="created")
async def on_comment(event: sansio.Event, ctx: Context) -> None:
    comment = event.data["comment"]
    if is_bot(comment.get("user")):
        return
    commands = parse_commands(comment.get("body"))
    if not commands:
        return
    thread = Thread.from_issue_comment(event.data)
    installation_id = thread.installation_id or await ctx.repos.installation_id(thread.owner, thread.repo)
    gh = await ctx.repos.client(thread.owner, thread.repo, installation_id)
    if gh is None or installation_id is None:
        log.info("not installed on %s; command ignored", thread.full_name)
        return
    user = comment["user"]["login"]
    loaded = await ctx.config.load(thread.owner, thread.repo, await _base_ref(gh, thread))
    if loaded.config is None:
        await issue_comments.react(gh, thread.owner, thread.repo, comment["id"], "confused")
        errors = "\n".join(f"- {err}" for err in loaded.errors)
        await issue_comments.post(
            gh, thread.owner, thread.repo, thread.number,
            f"@{user} I can't act on commands here: `.github/codegen.yml` has errors.\n\n{errors}",
        )
        return
    required = loaded.config.agent.min_permission
    permission = await ctx.permissions.permission(gh, thread.owner, thread.repo, user)
    if not permission_at_least(permission, required):
        await issue_comments.react(gh, thread.owner, thread.repo, comment["id"], "confused")
        await issue_comments.post(gh, thread.owner, thread.repo, thread.number, render_refusal(user, required))
        return
    await issue_comments.react(gh, thread.owner, thread.repo, comment["id"], "eyes")
    for command in commands:
        call = CommandCall(
            ctx=ctx, gh=gh, thread=thread, user=user, comment_id=comment["id"],
            installation_id=installation_id, config=loaded.config, command=command,
        )
        await _run(call, command)


async def _run(call: CommandCall, command: Command | CommandError) -> None:
    if isinstance(command, CommandError):
        await call.reply(render_command_error(command))
        return
    action = ACTIONS.get(command.kind)
    if action is None:
        await call.reply(f"`/codegen {command.kind.value}` is not available on this bot yet.")
        return
    try:
        await action(call)
    except Exception:
        log.exception("command %s failed", command.kind.value)
        await call.reply(
            f"Something went wrong while running `/codegen {command.kind.value}`; it was logged"
            f" (delivery `{call.ctx.delivery_id}`). Try again in a minute."
        )
