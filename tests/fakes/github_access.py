"""Who may call what on the fake GitHub, like GitHub decides it.

/app, /app/hook/deliveries[/…], /app/installations/{id}/access_tokens and /repos/{o}/{r}/installation need an
App JWT (see github_auth.py); repository endpoints and /graphql need an unexpired installation token of an installation
that has the repository (401 otherwise; 404 when the token cannot see the repo; 403 "Resource not accessible
by integration" when the installation lacks the permission); organization endpoints need an installation
token of an installation on that organization (see github_rest_orgs.py); `/user` and `/user/installations…`
need a user access token (github_oauth.py); manifest conversions need nothing;
/rate_limit takes anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from tests.fakes.github_auth import AuthError, Credentials, authenticate
from tests.fakes.github_oauth import USER_OPERATIONS, authenticate_user
from tests.fakes.github_rest_base import HttpError
from tests.fakes.github_rest_orgs import ORG_OPERATIONS, check_org_access
from tests.fakes.github_state import World

LEVELS = {"read": 1, "write": 2, "admin": 3}
JWT_OPERATIONS = {
    "apps/get-authenticated",
    "apps/create-installation-access-token",
    "apps/get-repo-installation",
    # the App webhook's deliveries: "You must use a JWT" (https://docs.github.com/en/rest/apps/webhooks)
    "apps/list-webhook-deliveries",
    "apps/get-webhook-delivery",
    "apps/redeliver-webhook-delivery",
}
OPEN_OPERATIONS = {"apps/create-from-manifest"}
ANY_AUTH_OPERATIONS = {"rate-limit/get"}
# operationId -> accepted (permission, level) pairs; any one suffices
NEEDS: dict[str, list[tuple[str, str]]] = {
    "repos/get": [("metadata", "read")],
    "checks/create": [("checks", "write")],
    "checks/update": [("checks", "write")],
    "checks/get": [("checks", "read")],
    "checks/list-annotations": [("checks", "read")],
    "checks/list-for-ref": [("checks", "read")],
    "checks/list-suites-for-ref": [("checks", "read")],
    "repos/get-combined-status-for-ref": [("statuses", "read")],
    "repos/create-commit-status": [("statuses", "write")],
    "issues/get": [("issues", "read"), ("pull_requests", "read")],
    "issues/list-comments": [("issues", "read"), ("pull_requests", "read")],
    "issues/get-comment": [("issues", "read"), ("pull_requests", "read")],
    "issues/create-comment": [("issues", "write"), ("pull_requests", "write")],
    "issues/update-comment": [("issues", "write"), ("pull_requests", "write")],
    "issues/add-labels": [("issues", "write"), ("pull_requests", "write")],
    "issues/remove-label": [("issues", "write"), ("pull_requests", "write")],
    "issues/list-events": [("issues", "read"), ("pull_requests", "read")],
    "reactions/create-for-issue-comment": [("issues", "write"), ("pull_requests", "write")],
    "repos/get-content": [("contents", "read")],
    "pulls/list": [("pull_requests", "read")],
    "pulls/get": [("pull_requests", "read")],
    "pulls/list-files": [("pull_requests", "read")],
    "pulls/list-reviews": [("pull_requests", "read")],
    "pulls/merge": [("contents", "write")],
    "pulls/update-branch": [("pull_requests", "write")],
    "pulls/list-review-comments": [("pull_requests", "read")],
    "repos/list-pull-requests-associated-with-commit": [("pull_requests", "read")],
    "pulls/create-reply-for-review-comment": [("pull_requests", "write")],
    "reactions/create-for-pull-request-review-comment": [("pull_requests", "write")],
    "repos/compare-commits-with-basehead": [("contents", "read")],
    "repos/get-collaborator-permission-level": [("metadata", "read")],
    "repos/get-branch-protection": [("administration", "read")],
    "repos/get-status-checks-protection": [("administration", "read")],
    "repos/get-branch-rules": [("metadata", "read")],
    "git/delete-ref": [("contents", "write")],
    # "Members" organization permissions (read): https://docs.github.com/en/rest/teams/members
    "teams/get-membership-for-user-in-org": [("members", "read")],
    "graphql": [("pull_requests", "write")],
}


def authorize(
    world: World, operation_id: str, headers: Mapping[str, str], params: Mapping[str, str]
) -> Credentials:
    """The caller's credentials if it may call the operation; HttpError (401, 403 or 404) otherwise."""
    if operation_id in OPEN_OPERATIONS:
        return Credentials("none")
    if operation_id in USER_OPERATIONS:  # a user access token (github_oauth.py)
        authenticate_user(world, headers)
        return Credentials("user")
    try:
        creds = authenticate(headers, world.apps, world.tokens, world.clock)
    except AuthError as error:
        raise HttpError(401, error.message) from error
    if operation_id in ANY_AUTH_OPERATIONS:
        return creds
    if operation_id in JWT_OPERATIONS:
        if creds.kind != "jwt":
            raise HttpError(
                401,
                "A JSON web token could not be decoded" if creds.kind == "token" else "Requires authentication",
            )
        return creds
    if creds.kind == "none":
        raise HttpError(401, "Requires authentication")
    if creds.kind == "jwt":
        raise HttpError(401, "Bad credentials")
    if operation_id in ORG_OPERATIONS:
        assert creds.token is not None
        check_org_access(world, creds, params["org"], permitted(creds.token.permissions, operation_id))
        return creds
    check_repo_access(world, creds, f"{params.get('owner')}/{params.get('repo')}", operation_id)
    return creds


def permitted(granted: Mapping[str, str], operation_id: str) -> bool:
    """Whether permissions `granted` (e.g. a token's) include one that `operation_id` accepts."""
    needs = NEEDS.get(operation_id, [])
    return not needs or any(LEVELS.get(granted.get(p, ""), 0) >= LEVELS[level] for p, level in needs)


def check_repo_access(world: World, creds: Credentials, full_name: str, operation_id: str) -> None:
    """HttpError unless the installation token may use `operation_id` on the repository."""
    token = creds.token
    assert token is not None
    inst = world.installations.get(token.installation_id)
    if inst is None or inst.suspended:
        raise HttpError(401, "Bad credentials")
    if full_name not in world.repos or full_name not in inst.repos:
        raise HttpError(404, "Not Found")
    if token.repos is not None and full_name not in token.repos:
        raise HttpError(404, "Not Found")
    if not permitted(token.permissions, operation_id):
        raise HttpError(403, "Resource not accessible by integration")


def graphql_refusal(world: World, creds: Credentials, full_name: str) -> tuple[str, str] | None:
    """(GraphQL error type, message) when the token may not touch the repository's pull requests."""
    try:
        check_repo_access(world, creds, full_name, "graphql")
    except HttpError as error:
        return ("NOT_FOUND" if error.status == 404 else "FORBIDDEN", error.message)
    return None
