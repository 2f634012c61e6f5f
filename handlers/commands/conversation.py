"""The conversation a command came from (an issue or a pull request), read from an `issue_comment` payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
