"""`/codegen help`: the commands *this user* may run on *this repository*, each with an example (pure).

The generic table (`replies.HELP_TEXT`) answers a mistyped command; `/codegen help` itself answers with what
the asker can do here: the commands their permission (or team) allows under the repository's config, where
each works, a concrete example, and then the commands they may not run with what those need. A few lines
say what the config changes (auto-merge, the merge train, the minimum permission).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.schema import RepoConfig
from handlers.commands.grammar import CommandKind

#: where a command works, and an example of it
USAGE: dict[CommandKind, tuple[str, str]] = {
    CommandKind.START: ("issue or PR", "/codegen add rate limiting to the upload endpoint"),
    CommandKind.CONTINUE: ("thread with a finished run", "/codegen continue also cover the admin API"),
    CommandKind.CONFIRM: ("thread whose run proposed a plan", "/codegen confirm"),
    CommandKind.MODIFY: ("thread whose run proposed a plan", "/codegen modify keep the old endpoint working"),
    CommandKind.CANCEL: ("thread with an active run", "/codegen cancel"),
    CommandKind.STATUS: ("anywhere", "/codegen status"),
    CommandKind.VALIDATE: ("PR", "/codegen validate"),
    CommandKind.OK_TO_TEST: ("PR from a fork", "/codegen ok-to-test"),
    CommandKind.FIX: ("PR with a failed validation", "/codegen fix the timeout in test_upload"),
    CommandKind.MERGE: ("PR", "/codegen merge"),
    CommandKind.MERGE_CANCEL: ("PR", "/codegen merge cancel"),
    CommandKind.HOLD: ("PR", "/codegen hold"),
    CommandKind.HELP: ("anywhere", "/codegen help"),
}


@dataclass(frozen=True)
class HelpFacts:
    user: str
    permission: str
    #: per command: may this user run it here, and what its rule is ("`write` permission", "membership of …")
    allowed: Mapping[CommandKind, bool]
    rules: Mapping[CommandKind, str]


def render_help(facts: HelpFacts, config: RepoConfig) -> str:
    yours = [kind for kind in USAGE if facts.allowed.get(kind)]
    others = [kind for kind in USAGE if not facts.allowed.get(kind)]
    lines = [f"**What you can ask me here, @{facts.user}** (your permission: `{facts.permission}`)", ""]
    if yours:
        lines += ["| command | where | example |", "|---|---|---|"]
        lines += [f"| `{kind.value}` | {USAGE[kind][0]} | `{USAGE[kind][1]}` |" for kind in yours]
    else:
        lines.append("No command is open to you on this repository.")
    if others:
        lines += ["", "Not open to you: " + "; ".join(f"`{k.value}` (needs {facts.rules[k]})" for k in others) + "."]
    lines += ["", *_config_notes(config)]
    lines.append("One command per line; quoted lines and code blocks are ignored.")
    return "\n".join(lines)


def _config_notes(config: RepoConfig) -> list[str]:
    merge = config.merge
    notes = []
    if merge.auto_merge:
        notes.append("- `merge.auto_merge` is on: a pull request merges once its validated head passes every"
                     " required check, without `/codegen merge`; `/codegen hold` stops that.")
    if merge.train:
        notes.append("- `merge.train` is on: ready pull requests merge one at a time, each validated again on top"
                     " of the base branch first.")
    if merge.required_checks:
        notes.append("- required checks: " + ", ".join(f"`{c}`" for c in merge.required_checks) + ".")
    return notes
