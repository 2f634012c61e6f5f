"""THE prompt template sent to the Codegen agent (one place, documented in docs/commands.md).

    <agent.prompt_prefix>                        (when the repository sets one)

    <the request from the /codegen command>

    ## Where this comes from
    Repository, issue or pull request number, title and URL; for a PR its head and base branches.
    For a PR:   "Push your changes to the branch `<head>` of this pull request; do not open a new PR."
    For an issue: "Open a pull request against `<default branch>` that references #<n>."

    ## Description           (the issue/PR body, at most 4,000 characters)
    ## Recent comments        (newest last, each at most 1,500 characters, all together at most 6,000;
                               older comments are dropped first; by default only those of the
                               repository's owners, members and collaborators: `agent.prompt_comments`)

The title, the description and every comment are fenced as untrusted data (handlers/agent/untrusted.py),
and the prompt says so up front: they cannot forge the prompt's own sections. The request itself (from a
user the bot let command it) and the repository's `agent.prompt_prefix` are instructions.
The whole prompt is bounded by MAX_PROMPT_CHARS (16,000).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.agent.untrusted import NOTICE, fence, new_tag

MAX_PROMPT_CHARS = 16_000
MAX_BODY_CHARS = 4_000
MAX_COMMENT_CHARS = 1_500
MAX_COMMENTS_CHARS = 6_000


@dataclass(frozen=True)
class PromptContext:
    command: str
    repo: str
    kind: str  # "issue" | "pull_request"
    number: int
    title: str
    body: str
    html_url: str
    head_branch: str | None = None
    base_branch: str | None = None
    comments: list[tuple[str, str]] = field(default_factory=list)
    prompt_prefix: str = ""


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " …(truncated)"


def build_prompt(ctx: PromptContext) -> str:
    parts: list[str] = []
    if ctx.prompt_prefix.strip():
        parts.append(ctx.prompt_prefix.strip())
    parts.append(ctx.command.strip())
    tag = new_tag()
    parts.append(NOTICE)
    what = "pull request" if ctx.kind == "pull_request" else "issue"
    origin = [
        "## Where this comes from",
        f"Repository: {ctx.repo}",
        f"{what.capitalize()} #{ctx.number}, titled:",
        fence("title", ctx.title, tag),
        f"URL: {ctx.html_url}",
    ]
    if ctx.kind == "pull_request":
        origin.append(f"Head branch: `{ctx.head_branch}`; base branch: `{ctx.base_branch}`.")
        origin.append(
            f"Push your changes to the branch `{ctx.head_branch}` of this pull request; do not open a new pull"
            " request."
        )
    else:
        origin.append(f"When you change code, open a pull request that references #{ctx.number}.")
    parts.append("\n".join(origin))
    if ctx.body.strip():
        parts.append("## Description\n" + fence("description", _cut(ctx.body, MAX_BODY_CHARS), tag))
    comments: list[str] = []
    budget = MAX_COMMENTS_CHARS
    for author, text in reversed(ctx.comments):
        entry = fence(f"comment by @{author}", _cut(text, MAX_COMMENT_CHARS), tag)
        if len(entry) > budget:
            break
        comments.insert(0, entry)
        budget -= len(entry)
    if comments:
        parts.append("## Recent comments (oldest first)\n" + "\n\n".join(comments))
    prompt = "\n\n".join(parts)
    return _cut(prompt, MAX_PROMPT_CHARS)


RESUME_LEADS = {
    "continue": "More context from the maintainer:",
    "confirm": "Proceed",
    "modify": "Change the plan as follows, then show the updated plan:",
}


def build_resume_prompt(kind: str, text: str) -> str:
    """`confirm` sends "Proceed" (plus any words the user added); the others lead their text."""
    lead = RESUME_LEADS.get(kind, "")
    if kind == "confirm":
        return f"Proceed\n\n{text.strip()}".strip()
    return f"{lead}\n\n{text.strip()}".strip()
