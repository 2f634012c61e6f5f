"""Replies to commands (pure): refusals, command errors with a suggestion, and the status report."""

from __future__ import annotations

from handlers.agent.status import status_view
from handlers.commands.grammar import CommandError
from handlers.commands.replies import render_command_error, render_refusal, render_status_report
from tests.support.agent_run_record import agent_run_record as record


def test_replies() -> None:
    assert "**maintain**" in render_refusal("bob", "maintain")
    error = render_command_error(CommandError(2, "/codegen stauts", "`stauts` is not a command.", "status"))
    assert "Did you mean `/codegen status`?" in error and "| `/codegen help` |" in error
    report = render_status_report([status_view(record(), 1001.0, 60)])
    assert "#7" in report and "@alice" in report
