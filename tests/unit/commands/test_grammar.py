"""The command grammar (pure): examples, and properties over generated comments (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.github.permissions import effective_permission, permission_at_least
from handlers.agent.answer import AnswerKind, classify_answer, extract_plan
from handlers.commands.grammar import Command, CommandError, CommandKind, parse_commands


def kinds(body: str) -> list[object]:
    return [c.kind if isinstance(c, Command) else "error" for c in parse_commands(body)]


def test_every_subcommand() -> None:
    body = "\n".join([
        "/codegen add rate limiting", "/codegen continue more", "/codegen confirm", "/codegen proceed",
        "/codegen modify less", "/codegen cancel", "/codegen status", "/codegen validate", "/codegen ok-to-test",
        "/codegen fix the test", "/codegen merge", "/codegen help", "/retest",
    ])
    assert kinds(body) == [
        CommandKind.START, CommandKind.CONTINUE, CommandKind.CONFIRM, CommandKind.CONFIRM, CommandKind.MODIFY,
        CommandKind.CANCEL, CommandKind.STATUS, CommandKind.VALIDATE, CommandKind.OK_TO_TEST, CommandKind.FIX,
        CommandKind.MERGE, CommandKind.HELP, CommandKind.VALIDATE,
    ]
    assert CommandKind.OK_TO_TEST.value == "ok-to-test"


def test_merge_cancel_is_its_own_command_never_a_merge_request() -> None:
    assert kinds("/codegen merge cancel\n/codegen MERGE Cancel now\n/codegen unmerge\n/codegen hold") == [
        CommandKind.MERGE_CANCEL, CommandKind.MERGE_CANCEL, CommandKind.MERGE_CANCEL, CommandKind.HOLD]
    assert kinds("/codegen merge please") == [CommandKind.MERGE]  # other words are still a merge request
    assert kinds("/codegen merge cancelled") == [CommandKind.MERGE]  # the whole word only


def test_arguments_lines_and_continuation() -> None:
    (start, status) = parse_commands("hi\n  /CODEGEN  Add tests\nfor the parser\n> quoted context\n/codegen status")
    assert start == Command(CommandKind.START, "Add tests\nfor the parser\n> quoted context", 2)
    assert status == Command(CommandKind.STATUS, "", 5)
    assert parse_commands("/codegen modify use a queue") == [Command(CommandKind.MODIFY, "use a queue", 1)]


def test_errors_say_what_is_wrong() -> None:
    (empty,) = parse_commands("/codegen")
    assert isinstance(empty, CommandError) and "needs a sub-command" in empty.message
    (typo,) = parse_commands("/codegen stauts")
    assert isinstance(typo, CommandError) and typo.suggestion == "status"
    (missing,) = parse_commands("/codegen continue")
    assert isinstance(missing, CommandError) and "needs the context" in missing.message
    assert kinds("/codegen refactor") == [CommandKind.START]  # a one-word prompt close to nothing


def test_quotes_fences_and_lookalikes_are_not_commands() -> None:
    assert parse_commands("> /codegen do it") == []
    assert parse_commands("```\n/codegen do it\n```") == []
    assert parse_commands("~~~~\n/codegen do it\n~~~\n/codegen still fenced\n~~~~") == []
    assert parse_commands("/codegenerate this") == []
    assert parse_commands("please run /codegen do it") == []
    assert parse_commands(None) == [] and parse_commands("") == []


FENCED = st.text(alphabet=st.characters(blacklist_characters="`~\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parsing_never_raises_and_finds_only_codegen_lines(body: str) -> None:
    result = parse_commands(body)
    lines = body.splitlines()
    for item in result:
        line = lines[item.line - 1].lower()
        assert "/codegen" in line or "/retest" in line


@settings(max_examples=300, deadline=None)
@given(st.lists(FENCED, max_size=5), st.lists(FENCED, max_size=5))
def test_quoted_or_fenced_codegen_lines_never_run(before: list[str], inside: list[str]) -> None:
    quoted = "\n".join(f"> {text}\n> /codegen {text}" for text in before)
    fenced = "```\n" + "\n".join(f"/codegen {text}" for text in inside) + "\n```"
    assert parse_commands(quoted) == []
    assert parse_commands(fenced) == []
    assert parse_commands(f"{quoted}\n{fenced}") == []


def test_permissions() -> None:
    assert permission_at_least("admin", "write") and permission_at_least("write", "write")
    assert not permission_at_least("triage", "write") and not permission_at_least(None, "read")
    assert not permission_at_least("write", "bogus")
    assert effective_permission({"permission": "write", "role_name": "maintain"}) == "maintain"
    assert effective_permission({"permission": "read", "role_name": "triage"}) == "triage"
    assert effective_permission({"permission": "write", "role_name": "custom-deployer"}) == "write"
    assert effective_permission({}) == "none"


def test_answer_kinds() -> None:
    assert classify_answer("anything", [object()]) is AnswerKind.PR
    plan = "## Plan\n1. Add a limiter\n2. Test it\n\nShall I proceed?"
    assert classify_answer(plan, []) is AnswerKind.PLAN
    assert classify_answer("I will:\n- add a\n- add b\nPlease confirm.", None) is AnswerKind.PLAN
    assert classify_answer("Done. I changed:\n1. a\n2. b", []) is AnswerKind.REGULAR
    assert classify_answer("## Plan\n1. a\n2. b", []) is AnswerKind.REGULAR  # no request for approval
    assert classify_answer("Shall I proceed?", []) is AnswerKind.REGULAR  # no plan
    assert classify_answer(None, []) is AnswerKind.REGULAR
    assert extract_plan("Sure.\n\n## Plan\n1. a\n2. b\nShall I proceed?").startswith("## Plan")
