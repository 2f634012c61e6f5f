"""`decide(command, facts)`: what a slash command does, from facts alone (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.schema import AgentConfig
from handlers.commands.decide import Act, Facts, LatestRun, Reply, decide
from handlers.commands.grammar import POLICY, Command, CommandError, CommandKind, parse_commands
from handlers.commands.permissions import permitted, rule_for

ISSUE = Facts(user="alice", permission="write", is_pull_request=False, pull_open=False, latest_run=None)
OPEN_PR = replace(ISSUE, is_pull_request=True, pull_open=True)
PLAN = LatestRun(active=False, status="finished", on_codegen=True, answer_kind="plan")
ANSWERED = replace(PLAN, answer_kind="regular")
RUNNING = LatestRun(active=True, status="running", on_codegen=True, answer_kind=None)


def command(text: str) -> Command | CommandError:
    (parsed,) = parse_commands(text)
    return parsed


def test_every_command_kind_has_a_policy() -> None:
    assert set(POLICY) == set(CommandKind)


def test_a_request_starts_a_run_with_its_text() -> None:
    assert decide(command("/codegen add rate limiting"), ISSUE) == Act(CommandKind.START, "add rate limiting")


def test_a_parse_error_is_answered_with_help() -> None:
    outcome = decide(command("/codegen stauts"), ISSUE)
    assert isinstance(outcome, Reply)
    assert "Did you mean `/codegen status`?" in outcome.text and "codegen-bot commands" in outcome.text


@pytest.mark.parametrize("text", ["/codegen validate", "/codegen fix it", "/codegen merge", "/codegen ok-to-test"])
def test_pull_request_commands_refuse_on_an_issue(text: str) -> None:
    outcome = decide(command(text), ISSUE)
    assert isinstance(outcome, Reply) and "works on pull requests only" in outcome.text


@pytest.mark.parametrize("text", ["/codegen validate", "/codegen merge"])
def test_pull_request_commands_refuse_on_a_closed_pull_request(text: str) -> None:
    outcome = decide(command(text), replace(OPEN_PR, pull_open=False))
    assert isinstance(outcome, Reply) and "This pull request is closed" in outcome.text


def with_rule(text: str, facts: Facts, agent: AgentConfig | None = None) -> Facts:
    """The facts as the trigger gathers them: the command's rule (handlers/commands/permissions.py) evaluated."""
    parsed = command(text)
    assert isinstance(parsed, Command)
    rule = rule_for(parsed.kind, agent or AgentConfig())
    return replace(facts, permitted=permitted(rule, facts.permission, False), requirement=rule.describe())


@pytest.mark.parametrize(("text", "kind"), [("/codegen merge", CommandKind.MERGE),
                                            ("/codegen ok-to-test", CommandKind.OK_TO_TEST)])
def test_merge_and_approval_need_write_whatever_the_config_allows(text: str, kind: CommandKind) -> None:
    lenient = AgentConfig(min_permission="triage")
    outcome = decide(command(text), with_rule(text, replace(OPEN_PR, permission="triage"), lenient))
    assert outcome == Reply(f"@alice `/codegen {kind.value}` needs `write` permission on this repository.",
                            refusal=True)
    assert decide(command(text), with_rule(text, OPEN_PR, lenient)) == Act(kind, "")


def test_permission_is_checked_before_the_thread_kind() -> None:
    outcome = decide(command("/codegen merge"), with_rule("/codegen merge", replace(ISSUE, permission="read")))
    assert isinstance(outcome, Reply) and "needs `write` permission" in outcome.text


def test_a_command_named_in_agent_permissions_follows_its_own_rule() -> None:
    agent = AgentConfig(permissions={"status": "read", "start": "maintain", "fix": "@octo-org/reviewers"})
    reader = replace(ISSUE, permission="read")
    assert isinstance(decide(command("/codegen status"), with_rule("/codegen status", reader, agent)), Act)
    start = decide(command("/codegen add tests"), with_rule("/codegen add tests", ISSUE, agent))
    assert isinstance(start, Reply) and "needs `maintain` permission" in start.text
    assert rule_for(CommandKind.FIX, agent).describe() == "membership of `@octo-org/reviewers`"
    fix = rule_for(CommandKind.FIX, agent)
    assert permitted(fix, "write", in_team=True) and not permitted(fix, "maintain", in_team=False)
    assert permitted(fix, "admin", in_team=False)  # a mistyped team never locks the owners out


def test_the_default_rule_is_the_stricter_of_the_command_and_the_repository() -> None:
    strict = AgentConfig(min_permission="maintain")
    assert rule_for(CommandKind.OK_TO_TEST, strict).permission == "maintain"
    assert rule_for(CommandKind.OK_TO_TEST, AgentConfig(min_permission="read")).permission == "write"
    assert rule_for(CommandKind.STATUS, strict).permission == "maintain"


def test_continue_needs_a_run_that_has_finished() -> None:
    cont = command("/codegen continue with tests")
    assert "no agent run in this thread to continue" in _text(decide(cont, ISSUE))
    assert "still working" in _text(decide(cont, replace(ISSUE, latest_run=RUNNING)))
    failed = replace(ANSWERED, status="failed")
    assert "ended as **failed**" in _text(decide(cont, replace(ISSUE, latest_run=failed)))
    never_created = replace(ANSWERED, on_codegen=False)
    assert "cannot be resumed" in _text(decide(cont, replace(ISSUE, latest_run=never_created)))
    assert decide(cont, replace(ISSUE, latest_run=ANSWERED)) == Act(CommandKind.CONTINUE, "with tests")


@pytest.mark.parametrize("text", ["/codegen confirm", "/codegen proceed", "/codegen modify use redis"])
def test_confirm_and_modify_answer_a_plan_only(text: str) -> None:
    assert "did not propose one" in _text(decide(command(text), replace(ISSUE, latest_run=ANSWERED)))
    assert isinstance(decide(command(text), replace(ISSUE, latest_run=PLAN)), Act)


def test_cancel_needs_an_active_run() -> None:
    cancel = command("/codegen cancel")
    assert _text(decide(cancel, replace(ISSUE, latest_run=PLAN))) == (
        "There is no active agent run in this thread to cancel."
    )
    assert decide(cancel, replace(ISSUE, latest_run=RUNNING)) == Act(CommandKind.CANCEL, "")


@pytest.mark.parametrize("text", ["/codegen status", "/codegen help"])
def test_status_and_help_work_anywhere(text: str) -> None:
    assert isinstance(decide(command(text), ISSUE), Act)


def _text(outcome: Act | Reply) -> str:
    assert isinstance(outcome, Reply), outcome
    return outcome.text


HEAD = "0123456789abcdef" * 2 + "01234567"


@pytest.mark.parametrize(("text", "facts", "words"), [
    ("/codegen ok-to-test", replace(OPEN_PR, head_sha=HEAD, head_moved_since_comment=True), "arrived after your"),
    ("/codegen ok-to-test fedcba9", replace(OPEN_PR, head_sha=HEAD), "not `fedcba9`"),
    ("/codegen ok-to-test not-a-sha", replace(OPEN_PR, head_sha=HEAD), "takes a commit SHA"),
])
def test_ok_to_test_approves_only_the_head_it_was_given_for(text: str, facts: Facts, words: str) -> None:
    outcome = decide(command(text), facts)
    assert isinstance(outcome, Reply) and words in outcome.text and "nothing was approved" in outcome.text


@pytest.mark.parametrize("text", ["/codegen ok-to-test", f"/codegen ok-to-test {HEAD[:7]}",
                                  f"/codegen ok-to-test {HEAD.upper()}"])
def test_ok_to_test_approves_the_current_head(text: str) -> None:
    assert isinstance(decide(command(text), replace(OPEN_PR, head_sha=HEAD)), Act)


def test_ok_to_test_with_a_sha_works_even_after_the_head_moved() -> None:
    facts = replace(OPEN_PR, head_sha=HEAD, head_moved_since_comment=True)
    assert isinstance(decide(command(f"/codegen ok-to-test {HEAD[:12]}"), facts), Act)
