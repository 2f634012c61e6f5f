"""FakeGitHub: an honest stand-in for api.github.com, for every test of the bot.

It serves the REST operations of tests/fixtures/github/rest-subset.json (GitHub's own OpenAPI
description) plus POST /graphql for enablePullRequestAutoMerge / disablePullRequestAutoMerge and the merge
queue's enqueuePullRequest / dequeuePullRequest (github_graphql_queue.py), on 127.0.0.1 with a random
port. Every request is checked against the description: an undocumented operation, query parameter or body
field, a wrong type or enum value, a missing required field is a *contract violation*: recorded in
`fake.violations` and answered like GitHub would (404 for an unknown operation, 422 otherwise). Every
response the fake sends is checked too. The `fake_github` fixture (tests/fakes/github_fixtures.py) fails the
test at teardown when any violation happened, so a bot bug cannot hide behind a lenient fake.

Usage:

    async def test_x(fake_github: FakeGitHub) -> None:
        inst = fake_github.add_installation("octo-org", ["octo-org/repo"])
        fake_github.add_pull("octo-org/repo", number=7, head_sha="a" * 40)
        token = fake_github.issue_token(inst.id)            # or exchange an App JWT like the bot does
        ... point the bot at fake_github.url, with fake_github.app_id and fake_github.private_key_pem

Public API (stable; other modules build on it):

    FakeGitHub(*, app_id=None, token_ttl=3600.0, clock=None)
    await start() / await close()           (or `async with FakeGitHub() as fake:`)
    url: str                                 "http://127.0.0.1:PORT" (no trailing slash), the API root
    graphql_url: str                         url + "/graphql" (gidgethub: gh.graphql(q, endpoint=graphql_url))
    app: App; app_id: int; app_slug: str; private_key_pem: str; public_key_pem: str
    token_ttl: float (seconds, settable); clock: Callable[[], float] (settable, epoch seconds)
    world: World                             all state (tests may read and mutate it)
    violations: list[ContractViolation]      unexpected violations (fixture fails the test if any)
    allow_violations() -> context manager yielding the list of violations caught inside the block
    requests: list[RecordedRequest]          everything received: method, path, query, body, .json,
                                             operation_id, path_params, status, auth, installation_id,
                                             headers (lowercased, Authorization value redacted), at and
                                             answered_at (time.monotonic())
    request_count(installation_id=None, *, methods=None, exclude_304=False) -> int
        requests of that installation's token (None: all), of these methods (None: any), without the 304s
    rate_remaining(installation_id=None, resource="core") -> int   an installation's budget (None: the App's)
    calls(operation_id) -> list[RecordedRequest]   e.g. "checks/create", "graphql/enablePullRequestAutoMerge"
    fail_next(method, path_pattern, status, headers=None, body=None, times=1)
        script faults; path_pattern is an operationId, a description template ("/repos/{owner}/..."), or an
        fnmatch glob over the request path; method "*" matches any
    fail_secondary_rate_limit(method, path_pattern, retry_after=60, times=1, status=403)
        retry_after=None: no Retry-After header; status=429: Too Many Requests
    fail_primary_rate_limit(method, path_pattern, reset_in=60, times=1)
    Setup (signatures below): add_installation, add_repo, set_file, add_branch, add_pull, add_issue,
        add_comment, add_label, set_permission, protect_branch, set_branch_rules, add_review, add_status,
        add_check_run, add_check_suite, set_comparison, register_manifest_code, issue_token, app_jwt,
        expire_tokens, repo(full_name) -> Repo; require_merge_queue, queued, close_pull(full_name, number),
        add_team_member(org, team_slug, user, role="member", state="active") (github_rest_orgs.py)
    back_with_git(full_name: str, path: Path) -> None
        a real git repository behind the repository: comparisons, merges and branch updates happen in it
        (github_git.py); without it shas are invented and comparisons preset
    The App webhook's delivery log (github_hook_state.py, github_rest_hook_deliveries.py):
        log_delivery(guid, event, action, payload, status_code, *, delivered_at=None, redelivery=False,
                     failure=None) -> id        an attempt GitHub made ("OK" for 2xx, else not OK)
        webhook_target(url, secret)              where redeliveries (POST /app/hook/deliveries/{id}/attempts) go
        hook_deliveries() -> [HookDelivery]      every attempt, oldest first (redeliveries appended when made)
        await settle_deliveries()                wait until the redeliveries asked for so far were made

    GitHub sign-in (github_oauth.py: `/login/oauth/authorize`, `/login/oauth/access_token`, user access tokens
    for `GET /user`, `GET /user/installations`, `GET /user/installations/{id}/repositories`):
        sign_in_browser(login | None)           who the browser is signed in to GitHub as
        add_callback_url(url)                    a callback URL of the App (authorize redirects only there)
        user_token(login) -> str                 a user access token without the web flow
        expire_user_tokens()

Auth, like GitHub: /app, /app/installations/{id}/access_tokens and /repos/{o}/{r}/installation need an
App JWT (see github_auth.py); repository endpoints and /graphql need an unexpired installation token
of an installation that has the repository (401 otherwise; 404 when the token cannot see the repo; 403
"Resource not accessible by integration" when the installation lacks the permission); manifest
conversions need nothing; /rate_limit takes anything.

Decisions:
- The contract check runs before faults and auth, so a malformed request is a violation even when a
  fault is scripted for it. Scripted fault responses are sent as given and not checked.
- Error statuses GitHub sends for any operation (401, 403, 404, 405, 409, 422, 429, 5xx) but that an
  operation's description omits are checked against `basic-error` / `validation-error` instead.
- Responses carry x-ratelimit-* headers (limit 5000 per hour; a budget per installation, one for the App's
  JWT, one for everyone else) and x-github-request-id.
- Conditional requests like GitHub's: a 200 answer to a GET has an ETag (W/"<sha256 of the body>"); a GET
  with a matching If-None-Match is answered 304 without a body, and a 304 uses none of the budget.
- Installations get the app's permissions by default; the default app asks for what codegen-bot needs.
- An exception inside the fake is recorded as a violation ("FAKE BUG") and answered 500, so it fails the
  test instead of looking like a GitHub outage the bot tolerated.

Where things are: this module (the app, installations, tokens), github_setup.py (repository content),
github_server.py (the request pipeline), github_access.py and github_auth.py (who may call what),
github_limits.py (rate limits, faults), github_rest.py (the REST handlers), github_graphql.py,
github_bodies.py (answers built from the description's examples), github_state.py (the world),
github_git.py (a repository backed by real git).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt

from tests.fakes.github_auth import mint_token
from tests.fakes.github_bodies import Bodies
from tests.fakes.github_graphql import GraphQL
from tests.fakes.github_hook_state import HookDeliverySetup
from tests.fakes.github_ids import new_rsa_key
from tests.fakes.github_oauth import OAuthSetup
from tests.fakes.github_rest import RestOperations
from tests.fakes.github_server import GitHubServer, RecordedRequest
from tests.fakes.github_setup import GitHubSetup
from tests.fakes.github_state import App, Installation, World
from tests.fakes.openapi_check import ContractViolation, OpenAPIChecker

__all__ = ["SPEC_PATH", "ContractViolation", "FakeGitHub", "RecordedRequest"]

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "rest-subset.json"

DEFAULT_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "statuses": "write",
    "metadata": "read",
    "administration": "read",
    "members": "read",
}
DEFAULT_EVENTS = [
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "push",
    "status",
]


class FakeGitHub(OAuthSetup, HookDeliverySetup, GitHubSetup, GitHubServer):
    """See the module docstring."""

    def __init__(
        self,
        *,
        app_id: int | None = None,
        token_ttl: float = 3600.0,
        clock: Callable[[], float] | None = None,
        contract_checks: bool = True,
    ) -> None:
        world = World(clock=clock or time.time, token_ttl=token_ttl)
        checker = OpenAPIChecker(SPEC_PATH)
        self.bodies = Bodies(checker, lambda: self.url)
        rest = RestOperations(world, self.bodies, lambda: self.url)
        graphql = GraphQL(world, lambda: self._graphql_actor)
        GitHubServer.__init__(self, world, checker, rest, graphql, contract_checks)
        self.app = self._new_app(app_id or 4242, "codegen-bot-test", "codegen-bot (test)", "octo-org")
        self.world.apps[self.app.id] = self.app

    async def __aenter__(self) -> FakeGitHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.world.hooks.close()  # redeliveries still in flight
        await GitHubServer.close(self)

    # ---- app identity ----------------------------------------------------------------------------

    @property
    def app_id(self) -> int:
        return self.app.id

    @property
    def app_slug(self) -> str:
        return self.app.slug

    @property
    def private_key_pem(self) -> str:
        return self.app.private_key_pem

    @property
    def public_key_pem(self) -> str:
        return self.app.public_key_pem

    @property
    def token_ttl(self) -> float:
        return self.world.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.world.token_ttl = seconds

    @property
    def clock(self) -> Callable[[], float]:
        return self.world.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.world.clock = clock

    def _new_app(self, app_id: int, slug: str, name: str, owner: str) -> App:
        private, public = new_rsa_key()
        return App(
            id=app_id,
            slug=slug,
            name=name,
            owner=owner,
            client_id=f"Iv23li{secrets.token_hex(5)}",
            client_secret=secrets.token_hex(20),
            webhook_secret=secrets.token_hex(16),
            private_key_pem=private,
            public_key_pem=public,
            permissions=dict(DEFAULT_PERMISSIONS),
            events=list(DEFAULT_EVENTS),
        )

    # ---- setup: installations, apps, tokens ----------------------------------------------------------

    def add_installation(
        self,
        account: str,
        repos: Iterable[str] = (),
        *,
        installation_id: int | None = None,
        account_type: str = "Organization",
        app_id: int | None = None,
        permissions: Mapping[str, str] | None = None,
        repository_selection: str = "selected",
    ) -> Installation:
        """An installation of the app (default: the fake's app) on `account`, with these repositories."""
        app = self.world.apps[app_id or self.app.id]
        inst = Installation(
            installation_id or self.world.ids.next_id(),
            app.id,
            account,
            account_type,
            [],
            repository_selection,
            dict(permissions if permissions is not None else app.permissions),
        )
        self.world.installations[inst.id] = inst
        for full_name in repos:
            self.add_repo(full_name, installation_id=inst.id)
        return inst

    def register_manifest_code(
        self, code: str, *, slug: str = "codegen-bot-new", name: str | None = None, owner: str = "octo-org"
    ) -> App:
        """A one-time code for POST /app-manifests/{code}/conversions; the conversion creates this app."""
        app = self._new_app(self.world.ids.next_id(), slug, name or slug, owner)
        self.world.manifest_codes[code] = app
        return app

    def issue_token(self, installation_id: int, *, repos: Iterable[str] | None = None) -> str:
        """An installation token without an HTTP exchange (for tests that do not test auth)."""
        inst = self.world.installations[installation_id]
        narrowed = list(repos) if repos is not None else None
        return mint_token(self.world, inst, narrowed, dict(inst.permissions)).token

    def expire_tokens(self) -> None:
        """Every installation token issued so far expires now."""
        now = self.world.clock()
        for token in self.world.tokens.values():
            token.expires_at = min(token.expires_at, now - 1)

    def app_jwt(
        self,
        *,
        app_id: int | None = None,
        iat: float | None = None,
        exp: float | None = None,
        iss: Any = None,
        private_key_pem: str | None = None,
    ) -> str:
        """An App JWT like a correct client makes (iat 60 s back, exp 9 min ahead); override to break it."""
        app = self.world.apps[app_id or self.app.id]
        now = self.world.clock()
        claims = {
            "iat": int(iat if iat is not None else now - 60),
            "exp": int(exp if exp is not None else now + 540),
            "iss": iss if iss is not None else str(app.id),
        }
        return jwt.encode(claims, private_key_pem or app.private_key_pem, algorithm="RS256")
