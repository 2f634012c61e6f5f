"""What each accepted slash command does. `ACTIONS` maps a command kind to its action; features add theirs.

Agent-run commands act on the thread's *latest* run:
- `continue <text>`: the latest run must have finished (any answer); it is resumed with the text.
- `confirm` / `proceed` and `modify <text>`: the latest run must have finished with a **plan**.
- `cancel`: the latest run must be active (queued or running); the bot stops following it and says so.
  Codegen has no endpoint to stop a run, so the agent may still finish its current step.
A command that does not fit the thread's state gets a reply saying why and what would work.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from handlers import loop_commands, validation_commands
from handlers.command_call import CommandCall
from handlers.messages.help import HELP_TEXT
from handlers.messages.run_status import render_status_report
from handlers.rules.agent_answer import AnswerKind
from handlers.rules.commands import CommandKind
from handlers.run_view import status_view

Action = Callable[[CommandCall], Awaitable[None]]


async def start(call: CommandCall) -> None:
    await call.agent_runs().start(
        thread_repo=call.thread.full_name,
        number=call.thread.number,
        thread_kind=call.thread.kind,
        installation_id=call.installation_id,
        command=call.command.argument,
        requested_by=call.user,
        command_comment_id=call.comment_id,
    )


async def _resume(call: CommandCall, kind: str, need_plan: bool) -> None:
    run = await call.latest_run()
    name = call.command.kind.value
    if run is None:
        await call.reply(f"There is no agent run in this thread to {name}. Start one with `/codegen <what to do>`.")
        return
    if run.active:
        await call.reply(
            f"The agent run is still working; wait for its answer before `/codegen {name}`"
            " (or `/codegen cancel` it)."
        )
        return
    if run.status != "finished" or run.codegen_run_id is None:
        await call.reply(
            f"The latest agent run ended as **{run.status}**, so it cannot be resumed."
            " Start a new one with `/codegen <what to do>`."
        )
        return
    if need_plan and run.answer_kind != AnswerKind.PLAN.value:
        await call.reply(
            f"`/codegen {name}` answers a proposed plan, and the latest run did not propose one."
            " Use `/codegen continue <more context>` instead."
        )
        return
    await call.agent_runs().resume(run, kind, call.command.argument, call.user)


async def continue_run(call: CommandCall) -> None:
    await _resume(call, "continue", need_plan=False)


async def confirm(call: CommandCall) -> None:
    await _resume(call, "confirm", need_plan=True)


async def modify(call: CommandCall) -> None:
    await _resume(call, "modify", need_plan=True)


async def cancel(call: CommandCall) -> None:
    run = await call.latest_run()
    if run is None or not run.active:
        await call.reply("There is no active agent run in this thread to cancel.")
        return
    await call.agent_runs().cancel(run, call.user)


async def status(call: CommandCall) -> None:
    runs = await call.ctx.agent_runs.thread_runs(call.thread.full_name, call.thread.number)
    now = time.time()
    views = [status_view(run, now, call.ctx.settings.agent_run_stale_minutes) for run in runs]
    await call.reply(render_status_report(views))


async def show_help(call: CommandCall) -> None:
    await call.reply(HELP_TEXT)


ACTIONS: dict[CommandKind, Action] = {
    CommandKind.START: start,
    CommandKind.CONTINUE: continue_run,
    CommandKind.CONFIRM: confirm,
    CommandKind.MODIFY: modify,
    CommandKind.CANCEL: cancel,
    CommandKind.STATUS: status,
    CommandKind.HELP: show_help,
    CommandKind.VALIDATE: validation_commands.validate,
    CommandKind.OK_TO_TEST: validation_commands.ok_to_test,
    CommandKind.MERGE: loop_commands.merge,
    CommandKind.FIX: loop_commands.fix,
}
