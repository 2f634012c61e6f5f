"""The conversation a command came from (an issue or a pull request), and where in it the command was
written: an issue comment, a review comment on the diff, or a review's body. The bot reacts and answers
where the command was written: in the review thread for a review comment (reactions on review comments
have their own endpoint); a review's body has no reactions, so it gets only the answer, on the PR.

Each command of a text has a key: where it was written, the comment's id and the command's position
(`Written.command_key`). An agent run is recorded once per key, and each answer posted on the conversation
carries a hidden marker made of it, so when the same text is handled again (a later attempt at its
delivery, after a crash or a failed callback) the answer already posted is found and edited, not repeated.
An answer in a review thread has no such lookup (it is always posted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.runtime.logs import delivery_attempt

Place = Literal["issue_comment", "review_comment", "review"]


@dataclass(frozen=True)
class Conversation:
    owner: str
    repo: str
    number: int
    is_pull_request: bool
    title: str
    body: str
    html_url: str
    installation_id: int | None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def kind(self) -> str:
        return "pull_request" if self.is_pull_request else "issue"

    @classmethod
    def from_issue_comment(cls, data: dict[str, Any]) -> Conversation:
        issue = data["issue"]
        repository = data["repository"]
        installation = data.get("installation") or {}
        return cls(
            owner=repository["owner"]["login"],
            repo=repository["name"],
            number=int(issue["number"]),
            is_pull_request=bool(issue.get("pull_request")),
            title=issue.get("title") or "",
            body=issue.get("body") or "",
            html_url=issue.get("html_url") or "",
            installation_id=installation.get("id"),
        )


def is_bot(user: dict[str, Any] | None) -> bool:
    """Comments by bots (this App included) never run commands."""
    if not user:
        return True
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


@dataclass(frozen=True)
class Written:
    """One comment (or review body) that carries commands: who wrote what, when, and where."""

    place: Place
    id: int
    author: dict[str, Any]
    body: str
    created_at: str | None

    @property
    def user(self) -> str:
        return str(self.author.get("login", ""))

    def written_at(self, default: float) -> float:
        """`created_at` as a timestamp (`default` when GitHub sent none)."""
        try:
            return datetime.fromisoformat(str(self.created_at).replace("Z", "+00:00")).timestamp()
        except ValueError:
            return default

    async def react(self, gh: GitHubAPI, c: Conversation, content: str) -> None:
        if self.place == "issue_comment":
            await comments.react(gh, c.owner, c.repo, self.id, content)
        elif self.place == "review_comment":
            await comments.react_to_review_comment(gh, c.owner, c.repo, self.id, content)

    def command_key(self, position: int | str) -> str:
        """The identity of one command of this text (`position`: its index, or another answer's name)."""
        return f"{self.place}:{self.id}:{position}"

    async def reply(self, gh: GitHubAPI, c: Conversation, body: str, position: int | str = "") -> dict[str, Any]:
        """Answer where the text was written; on the conversation, once per `position` (see the docstring)."""
        if self.place == "review_comment":
            return await comments.reply_in_review_thread(gh, c.owner, c.repo, c.number, self.id, body)
        marker = reply_marker(self.command_key(position))
        text = f"{body}\n\n{marker}"
        if delivery_attempt() == 1:  # the text's first handling: nothing of it can be on GitHub yet
            return await comments.post(gh, c.owner, c.repo, c.number, text)
        return await comments.post_once(gh, c.owner, c.repo, c.number, marker, text)


def reply_marker(command_key: str) -> str:
    return f"<!-- codegen-bot:reply:{command_key} -->"


def from_pull_request_event(data: dict[str, Any]) -> Conversation:
    """The pull request of a `pull_request_review(_comment)` payload, as a conversation."""
    pr = data["pull_request"]
    repository = data["repository"]
    return Conversation(
        owner=repository["owner"]["login"], repo=repository["name"], number=int(pr["number"]),
        is_pull_request=True, title=pr.get("title") or "", body=pr.get("body") or "",
        html_url=pr.get("html_url") or "", installation_id=(data.get("installation") or {}).get("id"),
    )
