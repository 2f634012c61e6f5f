"""A user's permission on a repository: the ordered levels (pure) and GitHub's answer, cached briefly.

Levels, ordered: none < read < triage < write < maintain < admin.

`GET /repos/{owner}/{repo}/collaborators/{username}/permission`; a 404 (not a collaborator, or no such
user) means no permission. The cache is short so that a revoked permission stops working quickly.
"""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

LEVELS = ("none", "read", "triage", "write", "maintain", "admin")
_RANK = {name: rank for rank, name in enumerate(LEVELS)}


def permission_at_least(actual: str | None, required: str) -> bool:
    """True when `actual` grants at least `required`. Unknown or missing levels grant nothing."""
    return _RANK.get(actual or "none", 0) >= _RANK.get(required, len(LEVELS))


def effective_permission(data: dict[str, Any]) -> str:
    """The level from `GET /repos/{owner}/{repo}/collaborators/{username}/permission`.

    `permission` is the legacy field (admin, write, read, none: maintain shows as write, triage as read);
    `role_name` carries the real role. A known `role_name` wins; a custom role falls back to `permission`.
    """
    role = str(data.get("role_name") or "").lower()
    if role in _RANK:
        return role
    legacy = str(data.get("permission") or "none").lower()
    return legacy if legacy in _RANK else "none"


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
