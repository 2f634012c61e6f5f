"""What a signed-in user may see and do, asked of GitHub and cached per session (effects; the decisions are
visibility.py's).

- Visible repositories: the user's own token lists this App's installations and their repositories the user
  can access (`GET /user/installations`, `GET /user/installations/{id}/repositories`), cached `VISIBLE_TTL`
  seconds per session, so a revoked access disappears within a minute.
- Operator: the App's owner (`GET /app` with the App's JWT, read once) when that is a user, or an active member of
  STATUS_ADMIN_TEAM (`GET /orgs/{org}/teams/{team}/memberships/{login}` with the installation token of that
  organization, which needs the organization permission "Members: read"; without it GitHub answers 403 and
  nobody is an operator through the team: it fails closed). Cached `OPERATOR_TTL` seconds per session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.github.oauth import accessible_repos
from bot.runtime.web_session import WebSession
from bot.store.installations import InstallationStore
from handlers.status.visibility import is_operator, visible_repos

log = logging.getLogger(__name__)

VISIBLE_TTL = 60.0
OPERATOR_TTL = 300.0


class StatusAccess:
    def __init__(
        self, *, http: aiohttp.ClientSession, api_url: str, app: GitHubAPI, installation: Callable[[int], GitHubAPI],
        installations: InstallationStore, admin_team: str | None, clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.api_url = api_url
        self.app = app
        self.installation = installation
        self.installations = installations
        self.admin_team = admin_team
        self.clock = clock
        self._owner: tuple[str | None, str | None] | None = None

    async def visible(self, session: WebSession) -> tuple[str, ...]:
        """The repositories this user may see (gidgethub's BadRequest 401: the token no longer works)."""
        now = self.clock()
        hit = session.cached("visible", VISIBLE_TTL, now)
        if hit is not None:
            return tuple(hit)
        repos = visible_repos(await accessible_repos(self.http, self.api_url, session.token))
        session.cache["visible"] = (now, repos)
        return repos

    async def operator(self, session: WebSession) -> bool:
        now = self.clock()
        hit = session.cached("operator", OPERATOR_TTL, now)
        if hit is not None:
            return bool(hit)
        owner, owner_type = await self.app_owner()
        verdict = is_operator(session.login, owner, owner_type, await self.in_admin_team(session.login))
        session.cache["operator"] = (now, verdict)
        return verdict

    async def app_owner(self) -> tuple[str | None, str | None]:
        if self._owner is None:
            owner = (await self.app.getitem("/app")).get("owner") or {}
            self._owner = (owner.get("login"), owner.get("type"))
        return self._owner

    async def in_admin_team(self, login: str) -> bool:
        if not self.admin_team:
            return False
        org, slug = self.admin_team.split("/", 1)
        installation_id = await self.installations.for_account(org)
        if installation_id is None:
            log.warning("STATUS_ADMIN_TEAM %s: the App is not installed on %s", self.admin_team, org)
            return False
        try:
            membership = await self.installation(installation_id).getitem(
                "/orgs/{org}/teams/{team_slug}/memberships/{username}",
                {"org": org, "team_slug": slug, "username": login})
        except BadRequest as exc:
            if exc.status_code == 403:
                log.warning("STATUS_ADMIN_TEAM %s: the App cannot read team membership (needs `members: read`)",
                            self.admin_team)
            elif exc.status_code != 404:
                raise
            return False
        return membership.get("state") == "active"
