"""The fake GitHub's organization teams: "Get team membership for a user", and the setup that feeds it.

`GET /orgs/{org}/teams/{team_slug}/memberships/{username}` (operationId
`teams/get-membership-for-user-in-org`, https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user):

- 200 with GitHub's `team-membership` ({url, role: "member"|"maintainer", state: "active"|"pending"}) when
  the user is in the team, or has been invited to it and not yet accepted ("pending").
- 404 when the user has no membership of the team, and also when there is no such team: the description's
  only documented error is "404: if user has no team membership", and "To get a user's membership with a
  team, the team must be visible to the authenticated user". The description documents that 404 without a
  body, so the fake sends none (real GitHub adds a basic-error body; callers must go by the status).
- Installation tokens need the organization permission "Members" (read) (docs: "Fine-grained access tokens
  for 'Get team membership for a user'"): without it, 403 "Resource not accessible by integration", like
  every permission GitHub refuses an installation (github_access.py).
- An installation only reads its own organization's teams: another organization's team is 404, before any
  permission check. The team endpoints "are only available to authenticated members of the team's
  organization" (docs: "About team members"), the team must be visible to the caller, and GitHub answers 404,
  not 403, for what a caller may not see, "to avoid confirming the existence" of private resources
  (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#404-not-found-for-an-existing-resource).

Decisions: the organization name and the username are matched case-insensitively (the description: "The
organization name. The name is not case sensitive."; GitHub logins are case-insensitive), the team slug
exactly. The answer's `url` follows the description's example (`{api}/teams/{team_id}/memberships/{login}`).
Child teams and organization owners (whom GitHub reports as "maintainer") are not modelled: a test adds
such users to the team with the role it wants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.github_auth import Credentials
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply
from tests.fakes.github_state import World

__all__ = ["ORG_OPERATIONS", "OrgOperations", "Team", "TeamSetup", "check_org_access"]

GET_MEMBERSHIP = "teams/get-membership-for-user-in-org"
#: operations whose caller is authorized by organization (path parameter `org`), not by repository
ORG_OPERATIONS = frozenset({GET_MEMBERSHIP})
ROLES = ("member", "maintainer")
STATES = ("active", "pending")


@dataclass
class Member:
    login: str
    role: str = "member"
    state: str = "active"


@dataclass
class Team:
    id: int
    org: str
    slug: str
    members: dict[str, Member] = field(default_factory=dict)  # lowercased login -> membership


def team_key(org: str, slug: str) -> str:
    """The key of a team in `World.teams`: the organization is not case sensitive."""
    return f"{org.lower()}/{slug}"


class NotFound(HttpError):
    """404 as this operation documents it: no body ("if user has no team membership")."""

    def __init__(self) -> None:
        super().__init__(404, "Not Found")

    def reply(self) -> Reply:
        return Reply(self.status, headers=self.headers)


def check_org_access(world: World, creds: Credentials, org: str, permitted: bool) -> None:
    """HttpError unless the installation token may read `org`: 401 for a suspended or vanished installation,
    404 (no body) for another organization, 403 when the token lacks the permission (`permitted` False)."""
    token = creds.token
    assert token is not None
    inst = world.installations.get(token.installation_id)
    if inst is None or inst.suspended:
        raise HttpError(401, "Bad credentials")
    if inst.account_type != "Organization" or inst.account.lower() != org.lower():
        raise NotFound()
    if not permitted:
        raise HttpError(403, "Resource not accessible by integration")


class OrgOperations(Operations):
    """Handlers of the organization (teams) operations; the caller was checked by check_org_access."""

    def handlers(self) -> dict[str, Handler]:
        return {GET_MEMBERSHIP: self.get_membership}

    async def get_membership(self, call: Call) -> Reply:
        team = self.world.teams.get(team_key(call.params["org"], call.params["team_slug"]))
        member = team.members.get(call.params["username"].lower()) if team is not None else None
        if team is None or member is None:
            raise NotFound()
        body = self.bodies.example("/orgs/{org}/teams/{team_slug}/memberships/{username}", "get", "200")
        body.update(
            url=f"{self.bodies.api}/teams/{team.id}/memberships/{member.login}", role=member.role, state=member.state
        )
        return Reply(200, body)


class TeamSetup:
    """FakeGitHub's setup of organization teams (a base of GitHubSetup); needs `world`."""

    world: World

    def add_team_member(
        self, org: str, team_slug: str, user: str, *, role: str = "member", state: str = "active"
    ) -> None:
        """`user` is in team `org/team_slug` (created if missing) with `role` ("member" or "maintainer");
        `state` "pending": invited, not yet accepted. Adding the user again replaces the membership."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        key = team_key(org, team_slug)
        team = self.world.teams.get(key)
        if team is None:
            team = self.world.teams[key] = Team(self.world.ids.next_id(), org, team_slug)
        team.members[user.lower()] = Member(user, role, state)
