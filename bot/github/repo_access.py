"""Find the installation (and so the API client) that may act on a repository.

Order: the installation named by the webhook payload; then the installations recorded from
`installation*` webhooks; then GitHub itself (`GET /repos/{owner}/{repo}/installation`, as the App),
remembered for ten minutes. A repository the App is not installed on yields `None`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cachetools import TTLCache
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.store.installations import InstallationStore

if TYPE_CHECKING:
    from bot.github.client import GitHubClients


class RepoAccess:
    def __init__(self, github: GitHubClients, installations: InstallationStore) -> None:
        self.github = github
        self.installations = installations
        self._found: TTLCache[str, int | None] = TTLCache(maxsize=4096, ttl=600)

    async def installation_id(self, owner: str, repo: str) -> int | None:
        full_name = f"{owner}/{repo}"
        if full_name in self._found:
            return self._found[full_name]
        installation_id = await self.installations.installation_for(full_name)
        if installation_id is None:
            try:
                data = await self.github.app().getitem(
                    "/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo}
                )
                installation_id = int(data["id"])
            except BadRequest as exc:
                if exc.status_code != 404:
                    raise
        self._found[full_name] = installation_id
        return installation_id

    async def client(self, owner: str, repo: str, installation_id: int | None = None) -> GitHubAPI | None:
        if installation_id is None:
            installation_id = await self.installation_id(owner, repo)
        if installation_id is None:
            return None
        return self.github.installation(installation_id)

    async def installation_for_event(self, data: dict[str, object]) -> int | None:
        """The installation a webhook acts with: the one the payload names, else the repository's."""
        named = data.get("installation")
        if isinstance(named, dict) and isinstance(named.get("id"), int):
            return int(named["id"])
        repository = data.get("repository")
        if not isinstance(repository, dict) or not isinstance(repository.get("owner"), dict):
            return None
        return await self.installation_id(str(repository["owner"].get("login")), str(repository.get("name")))
