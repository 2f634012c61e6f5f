"""`/codegen validate` (alias `/retest`) and `/codegen ok-to-test` on a pull request."""

from __future__ import annotations

from handlers.command_call import CommandCall
from handlers.rules.permissions import permission_at_least
from handlers.validation_triggers import validate_pr


async def validate(call: CommandCall) -> None:
    pr = await call.open_pull()
    if pr is None:
        return
    await validate_pr(call.ctx, call.gh, call.thread.full_name, pr, call.installation_id, "command")


async def ok_to_test(call: CommandCall) -> None:
    """Approve the PR's current head SHA for running (write permission, whatever `min_permission` says)."""
    permission = await call.ctx.permissions.permission(call.gh, call.thread.owner, call.thread.repo, call.user)
    if not permission_at_least(permission, "write"):
        await call.reply(f"@{call.user} `/codegen ok-to-test` needs write permission on this repository.")
        return
    pr = await call.open_pull()
    if pr is None:
        return
    head = pr["head"]
    assert isinstance(head, dict)
    await call.ctx.validations.store.approve(call.thread.full_name, str(head["sha"]), call.user)
    await validate_pr(call.ctx, call.gh, call.thread.full_name, pr, call.installation_id, "command")
