"""Repository permission levels, ordered: none < read < triage < write < maintain < admin."""

from __future__ import annotations

from typing import Any

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
