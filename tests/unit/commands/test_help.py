"""`/codegen help` answers with what this user may run here (pure rendering), and the config's effect."""

from __future__ import annotations

from config.schema import AgentConfig, MergeConfig, RepoConfig
from handlers.commands.grammar import CommandKind
from handlers.commands.help import USAGE, HelpFacts, render_help
from handlers.commands.permissions import permitted, rule_for


def facts_for(user: str, permission: str, agent: AgentConfig) -> HelpFacts:
    rules = {kind: rule_for(kind, agent) for kind in USAGE}
    allowed = {kind: permitted(rule, permission, False) for kind, rule in rules.items()}
    return HelpFacts(user, permission, allowed, {k: r.describe() for k, r in rules.items()})


def test_every_command_has_a_usage_line() -> None:
    assert set(USAGE) == set(CommandKind)


def test_a_reader_sees_what_the_config_opens_to_readers_and_what_the_rest_needs() -> None:
    agent = AgentConfig(permissions={"status": "read", "help": "read", "fix": "@octo-org/reviewers"})
    text = render_help(facts_for("rita", "read", agent), RepoConfig(agent=agent))
    assert "| `status` | anywhere | `/codegen status` |" in text and "| `help` |" in text
    assert "| `start` |" not in text and "`start` (needs `write` permission)" in text
    assert "`fix` (needs membership of `@octo-org/reviewers`)" in text


def test_a_writer_sees_examples_and_what_auto_merge_and_the_train_change() -> None:
    config = RepoConfig(merge=MergeConfig(auto_merge=True, train=True, required_checks=["codegen/test"]))
    text = render_help(facts_for("wes", "write", config.agent), config)
    assert "| `start` | issue or PR | `/codegen add rate limiting to the upload endpoint` |" in text
    assert "Not open to you" not in text
    assert "`merge.auto_merge` is on" in text and "`merge.train` is on" in text and "`codegen/test`" in text
