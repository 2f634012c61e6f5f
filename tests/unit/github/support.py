"""What the GitHub client's tests share: the repository, a fake clock, the `setup` fixture's value (see
conftest.py) and a GET of the repository through the installation's client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.github.client import GitHubClients
from tests.fakes.github import FakeGitHub

REPO = "octo-org/widgets"
TOKEN_OP = "apps/create-installation-access-token"
GET_REPO = "repos/get"


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    fake: FakeGitHub
    clients: GitHubClients
    installation_id: int
    clock: Clock
    slept: list[float]  # every wait the clients took (none is really waited: the clock moves on)


async def get_repo(s: Setup, installation_id: int | None = None) -> dict[str, Any]:
    gh = s.clients.installation(installation_id or s.installation_id)
    data: dict[str, Any] = await gh.getitem("/repos/{owner}/{repo}", {"owner": "octo-org", "repo": "widgets"})
    return data
