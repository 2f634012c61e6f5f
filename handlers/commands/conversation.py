"""The conversation a command came from (an issue or a pull request), and where in it the command was
written: an issue comment, a review comment on the diff, or a review's body. The bot reacts and answers
where the command was written: in the review thread for a review comment (reactions on review comments
have their own endpoint); a review's body has no reactions, so it gets only the answer, on the PR.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gidgethub.abc import GitHubAPI

from bot.github import comments

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

    async def reply(self, gh: GitHubAPI, c: Conversation, body: str) -> dict[str, Any]:
        if self.place == "review_comment":
            return await comments.reply_in_review_thread(gh, c.owner, c.repo, c.number, self.id, body)
        return await comments.post(gh, c.owner, c.repo, c.number, body)


def from_pull_request_event(data: dict[str, Any]) -> Conversation:
    """The pull request of a `pull_request_review(_comment)` payload, as a conversation."""
    pr = data["pull_request"]
    repository = data["repository"]
    return Conversation(
        owner=repository["owner"]["login"], repo=repository["name"], number=int(pr["number"]),
        is_pull_request=True, title=pr.get("title") or "", body=pr.get("body") or "",
        html_url=pr.get("html_url") or "", installation_id=(data.get("installation") or {}).get("id"),
    )
