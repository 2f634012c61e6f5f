"""A user's permission on a repository, from GitHub, cached briefly (60 s by default).

`GET /repos/{owner}/{repo}/collaborators/{username}/permission`; a 404 (not a collaborator, or no such
user) means no permission. The cache is short so that a revoked permission stops working quickly.
"""

from __future__ import annotations

from cachetools import TTLCache
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from handlers.rules.permissions import effective_permission


class PermissionCache:
    def __init__(self, ttl: float = 60.0, maxsize: int = 4096) -> None:
        self._cache: TTLCache[tuple[str, str, str], str] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def permission(self, gh: GitHubAPI, owner: str, repo: str, username: str) -> str:
        key = (owner.lower(), repo.lower(), username.lower())
        if key in self._cache:
            return self._cache[key]
        try:
            data = await gh.getitem(
                "/repos/{owner}/{repo}/collaborators/{username}/permission",
                {"owner": owner, "repo": repo, "username": username},
            )
            level = effective_permission(data)
        except BadRequest as exc:
            if exc.status_code != 404:
                raise
            level = "none"
        self._cache[key] = level
        return level
