"""FakeGitHub: an honest stand-in for api.github.com, for every test of the bot.

It serves the 35 REST operations of tests/fixtures/github/rest-subset.json (GitHub's own OpenAPI
description) plus POST /graphql for enablePullRequestAutoMerge / disablePullRequestAutoMerge, on
127.0.0.1 with a random port. Every request is checked against the description: an undocumented
operation, query parameter or body field, a wrong type or enum value, a missing required field is a
*contract violation*: recorded in `fake.violations` and answered like GitHub would (404 for an unknown
operation, 422 otherwise). Every response the fake sends is checked too. The `fake_github` fixture
(tests/fakes/github_fixtures.py) fails the test at teardown when any violation happened, so a bot bug
cannot hide behind a lenient fake.

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
                                             operation_id, path_params, status, auth, headers (lowercased,
                                             Authorization value redacted)
    calls(operation_id) -> list[RecordedRequest]   e.g. "checks/create", "graphql/enablePullRequestAutoMerge"
    fail_next(method, path_pattern, status, headers=None, body=None, times=1)
        script faults; path_pattern is an operationId, a description template ("/repos/{owner}/..."), or an
        fnmatch glob over the request path; method "*" matches any
    fail_secondary_rate_limit(method, path_pattern, retry_after=60, times=1)
    fail_primary_rate_limit(method, path_pattern, reset_in=60, times=1)
    Setup (signatures below): add_installation, add_repo, set_file, add_branch, add_pull, add_issue,
        add_comment, add_label, set_permission, protect_branch, set_branch_rules, add_review, add_status,
        add_check_run, add_check_suite, set_comparison, register_manifest_code, issue_token, app_jwt,
        expire_tokens, repo(full_name) -> Repo

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
- Responses carry x-ratelimit-* headers (limit 5000 per hour, one shared budget) and x-github-request-id.
- Installations get the app's permissions by default; the default app asks for what codegen-bot needs.
- An exception inside the fake is recorded as a violation ("FAKE BUG") and answered 500, so it fails the
  test instead of looking like a GitHub outage the bot tolerated.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt
from aiohttp import web

from tests.fakes.github_auth import AuthError, Credentials, authenticate, new_token
from tests.fakes.github_bodies import Bodies
from tests.fakes.github_graphql import GraphQL, GraphQLContract
from tests.fakes.github_rest import DOCS, LEVELS, Call, HttpError, Reply, RestOperations
from tests.fakes.github_state import (
    App,
    CheckRun,
    CheckSuite,
    Comment,
    Comparison,
    Installation,
    Issue,
    Label,
    Protection,
    Pull,
    PullFile,
    Repo,
    Review,
    Status,
    Token,
    World,
    blob_sha,
    new_rsa_key,
)
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
JWT_OPERATIONS = {
    "apps/get-authenticated",
    "apps/create-installation-access-token",
    "apps/get-repo-installation",
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
    "reactions/create-for-issue-comment": [("issues", "write"), ("pull_requests", "write")],
    "repos/get-content": [("contents", "read")],
    "pulls/list": [("pull_requests", "read")],
    "pulls/get": [("pull_requests", "read")],
    "pulls/list-files": [("pull_requests", "read")],
    "pulls/list-reviews": [("pull_requests", "read")],
    "pulls/merge": [("contents", "write")],
    "pulls/update-branch": [("pull_requests", "write")],
    "repos/compare-commits-with-basehead": [("contents", "read")],
    "repos/get-collaborator-permission-level": [("metadata", "read")],
    "repos/get-branch-protection": [("administration", "read")],
    "repos/get-status-checks-protection": [("administration", "read")],
    "repos/get-branch-rules": [("metadata", "read")],
    "git/delete-ref": [("contents", "write")],
    "graphql": [("pull_requests", "write")],
}
GENERIC_ERRORS = {400, 401, 403, 404, 405, 409, 410, 422, 429, 500, 502, 503, 504}
RATE_LIMIT = 5000
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class RecordedRequest:
    """One request the fake received. `headers`: names lowercased, Authorization value "<scheme> ***"."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    operation_id: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    auth: str = "none"  # "none", "jwt", "token"
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class _Fault:
    method: str
    pattern: str
    status: int
    headers: dict[str, str]
    body: Any
    remaining: int


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lowercased; Authorization keeps only its scheme."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            value = value.split(" ", 1)[0] + " ***"
        out[name.lower()] = value
    return out


class FakeGitHub:
    """See the module docstring."""

    def __init__(
        self,
        *,
        app_id: int | None = None,
        token_ttl: float = 3600.0,
        clock: Callable[[], float] | None = None,
        contract_checks: bool = True,
    ) -> None:
        #: False only for benchmarks: requests are still routed by the description, but bodies are not
        #: validated (tests always check them; validating costs ~10 ms per request in this process)
        self.contract_checks = contract_checks
        self.world = World(clock=clock or time.time, token_ttl=token_ttl)
        self.checker = OpenAPIChecker(SPEC_PATH)
        self.bodies = Bodies(self.checker, lambda: self.url)
        self.rest = RestOperations(self.world, self.bodies, lambda: self.url)
        self.graphql = GraphQL(self.world, lambda: self._graphql_actor)
        self._graphql_actor = ""
        self.app = self._new_app(app_id or 4242, "codegen-bot-test", "codegen-bot (test)", "octo-org")
        self.world.apps[self.app.id] = self.app
        self.violations: list[ContractViolation] = []
        self._allowing: list[list[ContractViolation]] = []
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._rate_used = 0
        self._rate_reset = int(self.world.clock()) + 3600

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGitHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

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

    # ---- violations, recording, faults --------------------------------------------------------------

    def _violate(self, violation: ContractViolation) -> None:
        (self._allowing[-1] if self._allowing else self.violations).append(violation)

    @contextlib.contextmanager
    def allow_violations(self) -> Iterator[list[ContractViolation]]:
        """Violations inside the block go to the yielded list instead of failing the test."""
        caught: list[ContractViolation] = []
        self._allowing.append(caught)
        try:
            yield caught
        finally:
            self._allowing.remove(caught)

    def calls(self, operation_id: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.operation_id == operation_id]

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """The next `times` matching requests get this answer instead of the normal one."""
        if body is None:
            body = {"message": _reason(status), "documentation_url": DOCS, "status": str(status)}
        self._faults.append(_Fault(method.upper(), path_pattern, status, dict(headers or {}), body, times))

    def fail_secondary_rate_limit(
        self, method: str, path_pattern: str, retry_after: int = 60, times: int = 1
    ) -> None:
        self.fail_next(
            method,
            path_pattern,
            403,
            {"Retry-After": str(retry_after)},
            {
                "message": SECONDARY_LIMIT_MESSAGE,
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            },
            times,
        )

    def fail_primary_rate_limit(
        self, method: str, path_pattern: str, reset_in: int = 60, times: int = 1
    ) -> None:
        reset = int(self.world.clock()) + reset_in
        self.fail_next(
            method,
            path_pattern,
            403,
            {
                "x-ratelimit-limit": str(RATE_LIMIT),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-used": str(RATE_LIMIT),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "core",
            },
            {
                "message": "API rate limit exceeded for installation.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                "status": "403",
            },
            times,
        )

    def _take_fault(
        self, method: str, path: str, operation_id: str | None, template: str | None
    ) -> _Fault | None:
        for fault in self._faults:
            if fault.method not in ("*", method):
                continue
            if fault.pattern in (operation_id, template) or fnmatch.fnmatchcase(path, fault.pattern):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ---- HTTP --------------------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None, resource: str = "core") -> dict[str, str]:
        now = int(self.world.clock())
        if now >= self._rate_reset:
            self._rate_used, self._rate_reset = 0, now + 3600
        self._rate_used += 1
        headers = {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, RATE_LIMIT - self._rate_used)),
            "x-ratelimit-used": str(self._rate_used),
            "x-ratelimit-reset": str(self._rate_reset),
            "x-ratelimit-resource": resource,
            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
            "x-github-api-version-selected": "2022-11-28",
        }
        headers.update(extra or {})
        return headers

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = {k: v for k, v in request.headers.items()}
        parts = urlsplit(request.raw_path)
        record = RecordedRequest(
            method=request.method,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=_redact(headers),
            body=raw,
        )
        self.requests.append(record)
        if parts.path == "/graphql":
            response = await self._graphql(request.method, headers, raw, record)
        else:
            response = await self._rest(request.method, request.raw_path, headers, raw, record)
        record.status = response.status
        return response

    def _json_response(self, status: int, body: Any, headers: Mapping[str, str]) -> web.Response:
        data = b"" if body is None else json.dumps(body).encode()
        out = dict(headers)
        if body is not None:
            out["Content-Type"] = "application/json; charset=utf-8"
        return web.Response(status=status, body=data, headers=out)

    async def _rest(
        self, method: str, path_qs: str, headers: dict[str, str], raw: bytes, record: RecordedRequest
    ) -> web.StreamResponse:
        path = record.path
        try:
            matched = self.checker.operation_for(method, path_qs)
            record.operation_id, record.path_params = matched.operation_id, matched.path_params
        except ContractViolation as violation:
            self._violate(violation)
            return self._json_response(
                404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, self._headers()
            )
        try:
            if self.contract_checks:
                self.checker.check_request(method, path_qs, headers, raw)
        except ContractViolation as violation:
            self._violate(violation)
            status = 404 if violation.kind == "operation" else 422
            body = {"message": f"Invalid request.\n\n{violation.detail}", "documentation_url": DOCS}
            if status == 422:
                body["errors"] = [{"resource": "Request", "code": "invalid", "message": violation.detail}]
            return self._json_response(status, body, self._headers())
        fault = self._take_fault(method.upper(), path, matched.operation_id, matched.template)
        if fault is not None:
            return self._fault_response(fault)
        try:
            creds = self._authorize(matched.operation_id, headers, matched.path_params)
            record.auth = creds.kind
            call = Call(
                matched.operation_id,
                method.upper(),
                path,
                matched.path_params,
                record.query,
                record.json,
                headers,
                creds,
            )
            reply = await self.rest.handlers[matched.operation_id](call)
        except HttpError as error:
            reply = Reply(error.status, error.body(), headers=error.headers)
        except Exception as error:  # a bug in the fake must fail the test, not hide as a bot-side 500
            detail = f"FAKE BUG: {type(error).__name__}: {error}"
            self._violate(ContractViolation(method, path, "response-body", detail))
            return self._json_response(
                500, {"message": "Server Error", "documentation_url": DOCS}, self._headers()
            )
        if reply.raw is not None:
            body_bytes = reply.raw
            out_headers = self._headers(reply.headers)
            out_headers["Content-Type"] = reply.content_type
        else:
            body_bytes = b"" if reply.body is None else json.dumps(reply.body).encode()
            out_headers = self._headers(reply.headers)
            if reply.body is not None:
                out_headers["Content-Type"] = reply.content_type
        if self.contract_checks:
            self._check_outgoing(method, path_qs, headers, raw, reply.status, out_headers, body_bytes)
        return web.Response(status=reply.status, body=body_bytes, headers=out_headers)

    def _fault_response(self, fault: _Fault) -> web.Response:
        headers = dict(fault.headers)
        if isinstance(fault.body, bytes | str):
            data = fault.body.encode() if isinstance(fault.body, str) else fault.body
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(fault.body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return web.Response(status=fault.status, body=data, headers=headers)

    def _check_outgoing(
        self,
        method: str,
        path_qs: str,
        req_headers: Mapping[str, str],
        req_body: bytes,
        status: int,
        resp_headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        try:
            if self.checker.response_documented(method, path_qs, status) or status not in GENERIC_ERRORS:
                self.checker.check_response(
                    method, path_qs, req_headers, req_body, status, resp_headers, body
                )
                return
            ref = (
                "#/components/schemas/validation-error"
                if status == 422
                else "#/components/schemas/basic-error"
            )
            errors = self.checker.schema_errors(ref, json.loads(body) if body else {})
            if errors:
                raise ContractViolation(method, urlsplit(path_qs).path, "response-body", "; ".join(errors))
        except ContractViolation as violation:
            self._violate(
                ContractViolation(
                    violation.method, violation.path, violation.kind, f"FAKE BUG: {violation.detail}"
                )
            )

    def _authorize(
        self, operation_id: str, headers: Mapping[str, str], params: Mapping[str, str]
    ) -> Credentials:
        if operation_id in OPEN_OPERATIONS:
            return Credentials("none")
        try:
            creds = authenticate(headers, self.world.apps, self.world.tokens, self.world.clock)
        except AuthError as error:
            raise HttpError(401, error.message) from error
        if operation_id in ANY_AUTH_OPERATIONS:
            return creds
        if operation_id in JWT_OPERATIONS:
            if creds.kind != "jwt":
                raise HttpError(
                    401,
                    "A JSON web token could not be decoded"
                    if creds.kind == "token"
                    else "Requires authentication",
                )
            return creds
        if creds.kind == "none":
            raise HttpError(401, "Requires authentication")
        if creds.kind == "jwt":
            raise HttpError(401, "Bad credentials")
        self._check_repo_access(creds, f"{params.get('owner')}/{params.get('repo')}", operation_id)
        return creds

    def _check_repo_access(self, creds: Credentials, full_name: str, operation_id: str) -> None:
        token = creds.token
        assert token is not None
        inst = self.world.installations.get(token.installation_id)
        if inst is None or inst.suspended:
            raise HttpError(401, "Bad credentials")
        if full_name not in self.world.repos or full_name not in inst.repos:
            raise HttpError(404, "Not Found")
        if token.repos is not None and full_name not in token.repos:
            raise HttpError(404, "Not Found")
        granted = token.permissions
        needs = NEEDS.get(operation_id, [])
        if needs and not any(LEVELS.get(granted.get(p, ""), 0) >= LEVELS[level] for p, level in needs):
            raise HttpError(403, "Resource not accessible by integration")

    async def _graphql(
        self, method: str, headers: dict[str, str], raw: bytes, record: RecordedRequest
    ) -> web.StreamResponse:
        record.operation_id = "graphql"
        if method != "POST":
            self._violate(ContractViolation(method, "/graphql", "operation", "only POST /graphql exists"))
            return self._json_response(
                404, {"message": "Not Found", "documentation_url": DOCS}, self._headers()
            )
        try:
            creds = authenticate(headers, self.world.apps, self.world.tokens, self.world.clock)
        except AuthError as error:
            return self._json_response(
                401, {"message": error.message, "documentation_url": DOCS}, self._headers()
            )
        record.auth = creds.kind
        if creds.kind != "token" or creds.token is None:
            return self._json_response(
                401,
                {"message": "This endpoint requires you to be authenticated.", "documentation_url": DOCS},
                self._headers(),
            )
        try:
            payload = json.loads(raw)
            if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
                raise GraphQLContract("A GraphQL request is a JSON object with a string 'query'")
            unknown = set(payload) - {"query", "variables", "operationName"}
            if unknown:
                raise GraphQLContract(f"Unknown keys in the GraphQL request: {sorted(unknown)}")
            inst = self.world.installations[creds.token.installation_id]
            self._graphql_actor = self.world.apps[inst.app_id].bot_login
            token = creds
            name, body = self.graphql.execute(
                payload["query"], payload.get("variables"), lambda repo: self._graphql_refusal(token, repo)
            )
            record.operation_id = f"graphql/{name}"
        except (GraphQLContract, ValueError) as error:
            self._violate(ContractViolation("POST", "/graphql", "body", str(error)))
            body = {"errors": [{"message": str(error), "locations": [{"line": 1, "column": 1}]}]}
        return self._json_response(200, body, self._headers(resource="graphql"))

    def _graphql_refusal(self, creds: Credentials, full_name: str) -> tuple[str, str] | None:
        try:
            self._check_repo_access(creds, full_name, "graphql")
        except HttpError as error:
            return ("NOT_FOUND" if error.status == 404 else "FORBIDDEN", error.message)
        return None

    # ---- setup -------------------------------------------------------------------------------------

    def repo(self, full_name: str) -> Repo:
        return self.world.repos[full_name]

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        installation_id: int | None = None,
        **flags: Any,
    ) -> Repo:
        """A repository, created if missing; `flags` set Repo fields (private=True, archived=True...)."""
        repo = self.world.repos.get(full_name)
        if repo is None:
            owner, name = full_name.split("/", 1)
            repo = Repo(self.world.ids.next_id(), owner, name, default_branch=default_branch)
            repo.branches[default_branch] = self.world.ids.next_sha()
            repo.files[default_branch] = {}
            self.world.repos[full_name] = repo
        for key, value in flags.items():
            if not hasattr(repo, key):
                raise AttributeError(f"Repo has no field {key!r}")
            setattr(repo, key, value)
        if installation_id is not None:
            inst = self.world.installations[installation_id]
            if full_name not in inst.repos:
                inst.repos.append(full_name)
        return repo

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

    def add_branch(self, full_name: str, branch: str, sha: str | None = None) -> str:
        repo = self.add_repo(full_name)
        repo.branches[branch] = sha or self.world.ids.next_sha()
        repo.files.setdefault(branch, dict(repo.files.get(repo.default_branch, {})))
        return repo.branches[branch]

    def set_file(self, full_name: str, path: str, content: str | bytes, *, ref: str | None = None) -> str:
        """Put a file at a branch (created if missing) or at a sha; returns its blob sha."""
        repo = self.add_repo(full_name)
        ref = ref or repo.default_branch
        data = content.encode() if isinstance(content, str) else content
        is_sha = len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)
        if not is_sha and ref not in repo.branches:
            self.add_branch(full_name, ref)
        repo.files.setdefault(ref, {})[path.strip("/")] = data
        return blob_sha(data)

    def add_label(
        self, full_name: str, name: str, color: str = "ededed", description: str | None = None
    ) -> Label:
        repo = self.add_repo(full_name)
        label = repo.labels.get(name) or Label(self.world.ids.next_id(), name, color, description)
        repo.labels[name] = label
        return label

    def add_issue(
        self,
        full_name: str,
        *,
        number: int | None = None,
        title: str = "An issue",
        body: str | None = "",
        user: str = "octocat",
        labels: Iterable[str] = (),
        state: str = "open",
    ) -> Issue:
        repo = self.add_repo(full_name)
        number = number or repo.take_number()
        repo.next_number = max(repo.next_number, number + 1)
        now = self.world.clock()
        issue = Issue(number, self.world.ids.next_id(), title, body, user, state, [], False, now, now)
        for name in labels:
            self.add_label(full_name, name)
            issue.labels.append(name)
        repo.issues[number] = issue
        return issue

    def add_pull(
        self,
        full_name: str,
        *,
        number: int | None = None,
        title: str = "A change",
        body: str | None = "",
        user: str = "octocat",
        head_ref: str = "feature",
        head_sha: str | None = None,
        head_repo: str | None = None,
        base_ref: str | None = None,
        draft: bool = False,
        mergeable: bool | None = True,
        mergeable_state: str = "clean",
        labels: Iterable[str] = (),
        files: Iterable[PullFile | str] = (),
        state: str = "open",
    ) -> Pull:
        """An open pull request (also an issue). `head_repo` another full name makes it a fork's."""
        repo = self.add_repo(full_name)
        issue = self.add_issue(
            full_name, number=number, title=title, body=body, user=user, labels=labels, state=state
        )
        issue.is_pull = True
        head_full = head_repo or full_name
        head = self.add_repo(head_full, fork=head_full != full_name) if head_full else None
        head_sha = head_sha or self.world.ids.next_sha()
        if head is not None:
            self.add_branch(head_full, head_ref, head_sha)
        base_ref = base_ref or repo.default_branch
        pull = Pull(
            number=issue.number,
            id=self.world.ids.next_id(),
            node_id=f"PR_kwDO{issue.id:08d}",
            title=title,
            body=body,
            user=user,
            head_ref=head_ref,
            head_sha=head_sha,
            head_repo=head_full,
            base_ref=base_ref,
            base_sha=repo.branches.get(base_ref) or self.world.ids.next_sha(),
            state=state,
            draft=draft,
            mergeable=mergeable,
            mergeable_state="draft" if draft and mergeable_state == "clean" else mergeable_state,
            files=[f if isinstance(f, PullFile) else PullFile(f, sha=blob_sha(f.encode())) for f in files],
            created_at=issue.created_at,
            updated_at=issue.updated_at,
        )
        repo.pulls[pull.number] = pull
        return pull

    def add_comment(self, full_name: str, issue_number: int, body: str, *, user: str = "octocat") -> Comment:
        repo = self.add_repo(full_name)
        if issue_number not in repo.issues:
            raise KeyError(f"{full_name} has no issue #{issue_number}")
        now = self.world.clock()
        kind = "Bot" if user.endswith("[bot]") else "User"
        comment = Comment(self.world.ids.next_id(), full_name, issue_number, body, user, kind, now, now)
        self.world.comments[comment.id] = comment
        return comment

    def set_permission(self, full_name: str, user: str, role: str) -> None:
        """role: admin, maintain, write, triage, read or none."""
        self.add_repo(full_name).collaborators[user] = role

    def protect_branch(
        self,
        full_name: str,
        branch: str,
        *,
        required_contexts: Iterable[str] | None = None,
        strict: bool = False,
        required_approving_review_count: int | None = None,
        enforce_admins: bool = False,
    ) -> Protection:
        protection = Protection(
            list(required_contexts) if required_contexts is not None else None,
            strict,
            required_approving_review_count,
            enforce_admins,
        )
        self.add_repo(full_name).protections[branch] = protection
        return protection

    def set_branch_rules(self, full_name: str, branch: str, rules: Iterable[Mapping[str, Any]]) -> None:
        """Rules as GitHub's `repository-rule` objects, e.g. {"type": "required_status_checks", "parameters":
        {"required_status_checks": [{"context": "ci"}], "strict_required_status_checks_policy": False}}."""
        self.add_repo(full_name).rules[branch] = [dict(r) for r in rules]

    def add_review(
        self,
        full_name: str,
        number: int,
        *,
        user: str,
        state: str = "APPROVED",
        body: str = "",
        commit_id: str | None = None,
    ) -> Review:
        pull = self.repo(full_name).pulls[number]
        review = Review(
            self.world.ids.next_id(), user, state, commit_id or pull.head_sha, body, self.world.clock()
        )
        pull.reviews.append(review)
        return review

    def add_status(
        self,
        full_name: str,
        sha: str,
        context: str,
        state: str,
        *,
        description: str | None = None,
        target_url: str | None = None,
        creator: str = "ci-bot",
    ) -> Status:
        status = Status(
            self.world.ids.next_id(), state, context, description, target_url, creator, self.world.clock()
        )
        self.add_repo(full_name).statuses.setdefault(sha, []).append(status)
        return status

    def _other_app(self, slug: str) -> App:
        for app in self.world.apps.values():
            if app.slug == slug:
                return app
        app = App(self.world.ids.next_id(), slug, slug, "github", "", "", "", "", "", {}, [])
        self.world.apps[app.id] = app
        return app

    def add_check_run(
        self,
        full_name: str,
        head_sha: str,
        name: str,
        *,
        status: str = "completed",
        conclusion: str | None = "success",
        app_slug: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> CheckRun:
        """A check run by another app (default "github-actions"; the fake's own slug means the fake's app)."""
        app = self._other_app(app_slug or "github-actions")
        repo = self.add_repo(full_name)
        branch = next((b for b, sha in repo.branches.items() if sha == head_sha), None)
        suite = self.world.suite_for(full_name, app.id, head_sha, branch)
        now = self.world.clock()
        run = CheckRun(
            self.world.ids.next_id(),
            full_name,
            app.id,
            name,
            head_sha,
            suite.id,
            status,
            conclusion if status == "completed" else None,
            started_at=now,
            completed_at=now if status == "completed" else None,
            output=dict(output or {}),
        )
        self.world.check_runs[run.id] = run
        return run

    def add_check_suite(
        self,
        full_name: str,
        head_sha: str,
        *,
        app_slug: str = "github-actions",
        status: str | None = None,
        conclusion: str | None = None,
    ) -> CheckSuite:
        """A check suite; status None derives it from the suite's runs."""
        app = self._other_app(app_slug)
        repo = self.add_repo(full_name)
        branch = next((b for b, sha in repo.branches.items() if sha == head_sha), None)
        suite = self.world.suite_for(full_name, app.id, head_sha, branch)
        suite.status, suite.conclusion = status, conclusion
        return suite

    def set_comparison(
        self,
        full_name: str,
        base: str,
        head: str,
        *,
        status: str = "ahead",
        ahead_by: int = 1,
        behind_by: int = 0,
        files: Iterable[PullFile | str] = (),
        diff: str = "",
    ) -> Comparison:
        comparison = Comparison(
            status,
            ahead_by,
            behind_by,
            [f if isinstance(f, PullFile) else PullFile(f, sha=blob_sha(f.encode())) for f in files],
            diff,
        )
        self.add_repo(full_name).comparisons[(base, head)] = comparison
        return comparison

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
        token = Token(
            new_token(),
            inst.id,
            self.world.clock() + self.world.token_ttl,
            list(repos) if repos is not None else None,
            dict(inst.permissions),
        )
        self.world.tokens[token.token] = token
        return token.token

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


def _reason(status: int) -> str:
    return {
        400: "Bad Request",
        401: "Bad credentials",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        422: "Validation Failed",
        429: "Too Many Requests",
        500: "Internal Server Error",
        502: "Server Error",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }.get(status, "Error")
