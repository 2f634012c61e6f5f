"""The fake GitHub answers "Get team membership for a user" like GitHub
(https://docs.github.com/en/rest/teams/members#get-team-membership-for-a-user; see tests/fakes/github_rest_orgs.py):
200 with the membership, 404 without one, 403 without the "members" permission, 404 for another
organization's team; every answer passes the description's response check."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
import pytest_asyncio

from tests.fakes.github import SPEC_PATH, FakeGitHub
from tests.fakes.openapi_check import ContractViolation, OpenAPIChecker
from tests.unit.fakes.support import independent_check

ORG = "octo-org"
OPERATION = "teams/get-membership-for-user-in-org"


@pytest_asyncio.fixture
async def client(fake_github: FakeGitHub) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the fake, without credentials (each test sends its own)."""
    async with httpx.AsyncClient(base_url=fake_github.url) as http:
        yield http


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}


async def membership(client: httpx.AsyncClient, token: str, team: str, user: str, org: str = ORG) -> httpx.Response:
    response = await client.get(f"/orgs/{org}/teams/{team}/memberships/{user}", headers=auth(token))
    check_answer(response)
    return response


def check_answer(response: httpx.Response) -> None:
    """Re-check an answer with a fresh checker: a status the operation documents against the description, any
    other (GitHub's generic 401/403) against `basic-error`, as the fake's own check does."""
    checker = OpenAPIChecker(SPEC_PATH)
    if checker.response_documented("GET", response.request.url.raw_path.decode(), response.status_code):
        independent_check(response)
    else:
        assert checker.schema_errors("#/components/schemas/basic-error", response.json()) == []


def org_token(fake: FakeGitHub, permissions: Mapping[str, str] | None = None) -> str:
    """A token of an installation on ORG (default: the app's permissions, which include members: read)."""
    return fake.issue_token(fake.add_installation(ORG, permissions=permissions).id)


async def test_a_member_gets_200_with_role_and_state(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member(ORG, "reviewers", "alice")
    fake_github.add_team_member(ORG, "reviewers", "bob", role="maintainer")
    token = org_token(fake_github)
    alice = await membership(client, token, "reviewers", "alice")
    assert alice.status_code == 200
    assert alice.json() == {
        "url": f"{fake_github.url}/teams/{fake_github.world.teams['octo-org/reviewers'].id}/memberships/alice",
        "role": "member",
        "state": "active",
    }
    bob = await membership(client, token, "reviewers", "bob")
    assert (bob.status_code, bob.json()["role"], bob.json()["state"]) == (200, "maintainer", "active")
    assert [r.operation_id for r in fake_github.requests] == [OPERATION, OPERATION]


async def test_a_pending_invitation_is_state_pending(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member(ORG, "reviewers", "carol", state="pending")
    response = await membership(client, org_token(fake_github), "reviewers", "carol")
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["state"]) == ("member", "pending")


async def test_org_and_login_are_not_case_sensitive(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member(ORG, "reviewers", "Alice")
    response = await membership(client, org_token(fake_github), "reviewers", "aLICE", org="Octo-Org")
    assert response.status_code == 200
    assert response.json()["url"].endswith("/memberships/Alice")  # the login as GitHub spells it


async def test_a_non_member_and_an_unknown_team_are_404_without_a_body(
    fake_github: FakeGitHub, client: httpx.AsyncClient
) -> None:
    fake_github.add_team_member(ORG, "reviewers", "alice")
    fake_github.add_team_member(ORG, "admins", "dave")
    token = org_token(fake_github)
    for team, user in [("reviewers", "dave"), ("nobody-knows", "alice"), ("Reviewers", "alice")]:
        response = await membership(client, token, team, user)
        assert response.status_code == 404, (team, user)
        assert response.content == b""  # the description documents this 404 without a body
    assert (await membership(client, token, "reviewers", "alice")).status_code == 200


async def test_without_members_permission_it_is_403(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member(ORG, "reviewers", "alice")
    no_members = org_token(fake_github, {"metadata": "read", "pull_requests": "write"})
    response = await membership(client, no_members, "reviewers", "alice")
    assert response.status_code == 403
    assert response.json()["message"] == "Resource not accessible by integration"
    # a token minted without the permission, from an installation that has it, is refused too
    inst = fake_github.add_installation(ORG)
    jwt_auth = {"Authorization": f"Bearer {fake_github.app_jwt()}"}
    minted = await client.post(
        f"/app/installations/{inst.id}/access_tokens", headers=jwt_auth, json={"permissions": {"metadata": "read"}}
    )
    narrowed = await membership(client, minted.json()["token"], "reviewers", "alice")
    assert narrowed.status_code == 403
    assert (await membership(client, org_token(fake_github), "reviewers", "alice")).status_code == 200


async def test_another_organizations_team_is_404(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member("other-org", "reviewers", "alice")
    response = await membership(client, org_token(fake_github), "reviewers", "alice", org="other-org")
    assert response.status_code == 404
    assert response.content == b""
    # also before the permission check: no 403 that would confirm the organization's team exists
    bare = org_token(fake_github, {"metadata": "read"})
    assert (await membership(client, bare, "reviewers", "alice", org="other-org")).status_code == 404
    theirs = fake_github.issue_token(fake_github.add_installation("other-org").id)
    assert (await membership(client, theirs, "reviewers", "alice", org="other-org")).status_code == 200


async def test_an_app_jwt_is_refused(fake_github: FakeGitHub, client: httpx.AsyncClient) -> None:
    fake_github.add_team_member(ORG, "reviewers", "alice")
    headers = {"Authorization": f"Bearer {fake_github.app_jwt()}"}
    response = await client.get(f"/orgs/{ORG}/teams/reviewers/memberships/alice", headers=headers)
    assert response.status_code == 401


def test_the_response_check_rejects_what_github_would_not_send() -> None:
    """The check the answers above pass has teeth for this operation: a role or state outside the enum, a
    missing url, or a 404 with a body are refused."""
    checker = OpenAPIChecker(SPEC_PATH)
    path = f"/orgs/{ORG}/teams/reviewers/memberships/alice"
    headers = {"Content-Type": "application/json; charset=utf-8"}

    def check(status: int, body: object) -> None:
        checker.check_response("GET", path, {}, b"", status, headers, json.dumps(body).encode())

    check(200, {"url": "https://api.github.com/teams/1/memberships/alice", "role": "member", "state": "active"})
    bad = [
        (200, {"url": "https://api.github.com/teams/1/memberships/alice", "role": "owner", "state": "active"}),
        (200, {"url": "https://api.github.com/teams/1/memberships/alice", "role": "member", "state": "invited"}),
        (200, {"role": "member", "state": "active"}),
        (404, {"message": "Not Found"}),
    ]
    for status, body in bad:
        with pytest.raises(ContractViolation):
            check(status, body)


async def test_add_team_member_refuses_what_github_cannot_answer(fake_github: FakeGitHub) -> None:
    with pytest.raises(ValueError, match="role"):
        fake_github.add_team_member(ORG, "reviewers", "alice", role="owner")
    with pytest.raises(ValueError, match="state"):
        fake_github.add_team_member(ORG, "reviewers", "alice", state="invited")
    fake_github.add_team_member(ORG, "reviewers", "alice", state="pending")
    fake_github.add_team_member(ORG, "reviewers", "alice", role="maintainer")  # accepted, now a maintainer
    member = fake_github.world.teams["octo-org/reviewers"].members["alice"]
    assert (member.role, member.state) == ("maintainer", "active")
