"""Who sees what on the status page: pure decisions, no I/O.

- A repository is visible to a user when GitHub lists it for the user's own token (`GET /user/installations/{id}
  /repositories`) with read access (`permissions.pull`). Nothing else makes it visible: not being public, not
  being in the store. Names compare case-insensitively (GitHub's are), and every item shown passes
  `only_visible`, so a repository the user cannot read appears nowhere, not even by name.
- An operator is the App's owner when that is a user, or an active member of STATUS_ADMIN_TEAM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from bot.github.oauth import AccessibleRepo

T = TypeVar("T")


def visible_repos(accessible: Iterable[AccessibleRepo]) -> tuple[str, ...]:
    """The repositories this user may see, sorted, each once."""
    seen: dict[str, str] = {}
    for repo in accessible:
        if repo.read:
            seen.setdefault(repo.full_name.lower(), repo.full_name)
    return tuple(sorted(seen.values(), key=str.lower))


def can_see(repo: str, visible: Iterable[str]) -> bool:
    return repo.lower() in {name.lower() for name in visible}


def canonical(repo: str, visible: Iterable[str]) -> str | None:
    """`repo` as the store spells it (GitHub's spelling) when visible; None otherwise."""
    return next((name for name in visible if name.lower() == repo.lower()), None)


def only_visible(items: Iterable[T], visible: Iterable[str], repo_of: Callable[[T], str]) -> list[T]:
    allowed = {name.lower() for name in visible}
    return [item for item in items if repo_of(item).lower() in allowed]


def is_operator(login: str, owner_login: str | None, owner_type: str | None, in_admin_team: bool) -> bool:
    """The App's owner (a user; an organization's members are not all operators) or a member of the admin
    team."""
    owner_is_user = owner_type == "User" and owner_login is not None
    return in_admin_team or (owner_is_user and login.lower() == str(owner_login).lower())
