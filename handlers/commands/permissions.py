"""Who may run which command: `agent.permissions` per command, else today's defaults.

A command's rule is, in this order:
1. `agent.permissions[<command>]` when the repository's config names it: a permission level (the user's
   permission on the repository must be at least that), or a team `@org/team-slug` (the user must be an
   active member of it; a repository admin may always run it, so that a mistyped team never locks the
   owners out);
2. else the stricter of `agent.min_permission` (default `write`) and the command's own minimum
   (`ok-to-test`, `merge`, `merge cancel`, `hold`: `write`; they run or merge code, and the config cannot
   lower them below `write`).

`rule_for` and `permitted` are pure. Team membership is read with `GET /orgs/{org}/teams/{team}/memberships/
{user}`, which needs the organisation permission `members: read`. `app.yml` does not ask for it (an
organisation owner must approve it, and most installations name no team); without it GitHub answers 403,
and a team rule then admits nobody but admins (it fails closed, and the refusal names the team).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.github.permissions import permission_at_least
from config.schema import AgentConfig
from handlers.commands.grammar import POLICY, CommandKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """A command's requirement: a least permission, or a team's membership."""

    permission: str | None = None
    team: str | None = None

    def describe(self) -> str:
        return f"membership of `{self.team}`" if self.team else f"`{self.permission}` permission"


def rule_for(kind: CommandKind, agent: AgentConfig) -> Rule:
    configured = agent.permissions.get(kind.value)
    if configured:
        return Rule(team=configured) if configured.startswith("@") else Rule(permission=configured)
    least = POLICY[kind].min_permission
    if least is None or permission_at_least(agent.min_permission, least):
        return Rule(permission=agent.min_permission)  # the stricter of the two
    return Rule(permission=least)


def permitted(rule: Rule, permission: str, in_team: bool) -> bool:
    """Pure: does a user with `permission` (and team membership `in_team`) meet the rule?"""
    if rule.team is not None:
        return in_team or permission_at_least(permission, "admin")
    return permission_at_least(permission, rule.permission or "admin")


class TeamMembership:
    """Team memberships looked up once per handled text (a few commands may name the same team)."""

    def __init__(self, gh: GitHubAPI, user: str) -> None:
        self.gh, self.user = gh, user
        self._known: dict[str, bool] = {}

    async def member(self, team: str) -> bool:
        if team not in self._known:
            self._known[team] = await self._lookup(team)
        return self._known[team]

    async def _lookup(self, team: str) -> bool:
        org, slug = team.lstrip("@").split("/", 1)
        try:
            membership = await self.gh.getitem(
                "/orgs/{org}/teams/{team_slug}/memberships/{username}",
                {"org": org, "team_slug": slug, "username": self.user},
            )
        except BadRequest as exc:
            if exc.status_code == 403:
                log.warning("team %s: the App cannot read team membership (needs `members: read`)", team)
            elif exc.status_code != 404:
                raise
            return False
        return membership.get("state") == "active"

    async def allows(self, rule: Rule, permission: str) -> bool:
        if rule.team is None or permission_at_least(permission, "admin"):
            return permitted(rule, permission, False)  # no team to look up
        return permitted(rule, permission, await self.member(rule.team))
