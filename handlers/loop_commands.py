"""`/codegen merge` and `/codegen fix [instructions]` on a pull request."""

from __future__ import annotations

from handlers.command_call import CommandCall
from handlers.merge_lifecycle import describe
from handlers.rules.merge import Merge, NotAsked
from handlers.rules.permissions import permission_at_least


async def merge(call: CommandCall) -> None:
    """Ask for a merge (write permission); answer at once with what it waits for when not ready."""
    permission = await call.ctx.permissions.permission(call.gh, call.thread.owner, call.thread.repo, call.user)
    if not permission_at_least(permission, "write"):
        await call.reply(f"@{call.user} `/codegen merge` needs write permission on this repository.")
        return
    if await call.open_pull() is None:
        return
    repo, number = call.thread.full_name, call.thread.number
    await call.ctx.merges.prs.set(repo, number, merge_requested_by=call.user)
    decision, _ = await call.ctx.merges.evaluate(call.gh, repo, number)
    if isinstance(decision, Merge):
        await call.ctx.merges.schedule(repo, number, call.installation_id, delay=0)
        return
    if isinstance(decision, NotAsked):  # cannot happen after the request above; kept for clarity
        return
    notice = describe(decision)
    await call.ctx.merges.prs.set(repo, number, last_notice=notice)
    await call.reply(f"@{call.user} {notice} I will merge it when that changes.")


async def fix(call: CommandCall) -> None:
    pr = await call.open_pull()
    if pr is None:
        return
    outcome = await call.ctx.auto_fix.fix_requested(
        call.gh, repo=call.thread.full_name, pr=pr, installation_id=call.installation_id, user=call.user,
        extra=call.command.argument, command_comment_id=call.comment_id,
    )
    await call.reply(f"@{call.user} {outcome}")
