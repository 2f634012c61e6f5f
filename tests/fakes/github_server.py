"""The fake GitHub's HTTP side: receive, record, check, fault, authorize, answer (see github.py).

`GitHubServer` is FakeGitHub's base for everything that happens per request: the REST pipeline (route by
the description, check the request, take a scripted fault, authorize, run the handler, check the answer)
and POST /graphql. It also keeps what tests inspect afterwards: `requests` and `violations`, and answers
`request_count(...)` and `rate_remaining(...)` from them (see github_limits.py for ETags and budgets).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aiohttp import web

from tests.fakes.github_access import authorize, graphql_refusal
from tests.fakes.github_auth import AuthError, authenticate
from tests.fakes.github_graphql import GraphQL, GraphQLContract
from tests.fakes.github_limits import (
    RateBudgets,
    caller_key,
    default_fault_body,
    etag_matches,
    etag_of,
    fault_response,
    primary_rate_limit,
    secondary_rate_limit,
)
from tests.fakes.github_oauth import oauth_web
from tests.fakes.github_rest import RestOperations
from tests.fakes.github_rest_base import Call, HttpError, Reply, error_body
from tests.fakes.github_state import World
from tests.fakes.openapi_check import ContractViolation, MatchedOperation, OpenAPIChecker
from tests.fakes.service import Faults, LocalServer

__all__ = ["GitHubServer", "RecordedRequest"]

# error statuses GitHub sends for any operation: checked against basic-error/validation-error when the
# operation's description omits them
GENERIC_ERRORS = {400, 401, 403, 404, 405, 409, 410, 422, 429, 500, 502, 503, 504}


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
    #: the installation whose token authenticated the request (tenancy tests)
    installation_id: int | None = None
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)
    answered_at: float | None = None  # when its answer was ready (time.monotonic), None until then

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lowercased; Authorization keeps only its scheme."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            value = value.split(" ", 1)[0] + " ***"
        out[name.lower()] = value
    return out


def _refusal(violation: ContractViolation, routed: bool) -> Reply:
    """GitHub's answer to a request the description does not allow (`routed`: the operation exists)."""
    if not routed:
        return Reply(404, error_body("Not Found", 404))
    message = f"Invalid request.\n\n{violation.detail}"
    if violation.kind == "operation":
        return Reply(404, error_body(message))
    errors = [{"resource": "Request", "code": "invalid", "message": violation.detail}]
    return Reply(422, error_body(message, errors=errors))


class GitHubServer:
    """Serves the fake's REST operations and GraphQL endpoint; FakeGitHub builds the parts it uses."""

    def __init__(
        self, world: World, checker: OpenAPIChecker, rest: RestOperations, graphql: GraphQL, contract_checks: bool
    ) -> None:
        #: False only for benchmarks: requests are still routed by the description, but bodies are not
        #: validated (tests always check them; validating costs ~10 ms per request in this process)
        self.contract_checks = contract_checks
        self.world = world
        self.checker = checker
        self.rest = rest
        self.graphql = graphql
        self.violations: list[ContractViolation] = []
        self.requests: list[RecordedRequest] = []
        self._graphql_actor = ""
        self._allowing: list[list[ContractViolation]] = []
        self._faults = Faults()
        self._rate = RateBudgets(lambda: self.world.clock())
        self._server = LocalServer(self._dispatch, client_max_size=50 * 1024 * 1024)

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        await self._server.close()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    # ---- violations, recording, faults -------------------------------------------------------------

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

    def request_count(
        self, installation_id: int | None = None, *, methods: Iterable[str] | None = None, exclude_304: bool = False
    ) -> int:
        """How many requests the fake received.

        `installation_id`: only those authenticated with that installation's token (None: every request,
        App JWT and unauthenticated ones included); `methods`: only these HTTP methods, any case (e.g.
        {"POST", "PATCH", "PUT", "DELETE"}; None: any); `exclude_304`: leave out those answered 304 Not
        Modified, which GitHub does not count against the rate limit."""
        wanted = {m.upper() for m in methods} if methods is not None else None
        return sum(
            1
            for r in self.requests
            if (installation_id is None or r.installation_id == installation_id)
            and (wanted is None or r.method.upper() in wanted)
            and not (exclude_304 and r.status == 304)
        )

    def rate_remaining(self, installation_id: int | None = None, resource: str = "core") -> int:
        """What is left of an installation's hourly budget (None: the App's, used with its JWT)."""
        caller = caller_key("jwt", installation_id)
        return self._rate.budget(caller, resource).remaining

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
        body = default_fault_body(status) if body is None else body
        self._faults.add(method, path_pattern, status, dict(headers or {}), body, times)

    def fail_secondary_rate_limit(
        self, method: str, path_pattern: str, retry_after: int | None = 60, times: int = 1, status: int = 403
    ) -> None:
        """GitHub's secondary rate limit: 403 (or `status` 429) with its message; `retry_after` None: no
        Retry-After header."""
        self.fail_next(method, path_pattern, status, *secondary_rate_limit(retry_after, status), times)

    def fail_primary_rate_limit(self, method: str, path_pattern: str, reset_in: int = 60, times: int = 1) -> None:
        reset = int(self.world.clock()) + reset_in
        self.fail_next(method, path_pattern, 403, *primary_rate_limit(reset), times)

    # ---- HTTP --------------------------------------------------------------------------------------

    def _respond(
        self,
        reply: Reply,
        *,
        check: tuple[str, str, Mapping[str, str], bytes] | None = None,
        resource: str = "core",
        record: RecordedRequest | None = None,
    ) -> web.Response:
        """The answer for `reply`, with the caller's rate-limit headers; `check` (method, path_qs, request
        headers, request body) checks it against the description first. A 200 answer to a GET gets an
        ETag, and is answered 304 (no body, no budget used) when the request's If-None-Match names it."""
        if reply.raw is not None:
            data, content_type = reply.raw, reply.content_type
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            content_type = reply.content_type if reply.body is not None else None
        extra = dict(reply.headers)
        status, consume = reply.status, True
        if record is not None and record.method.upper() == "GET" and status == 200:
            extra["ETag"] = etag_of(data)
            if etag_matches(record.headers.get("if-none-match"), extra["ETag"]):
                status, consume, data, content_type = 304, False, b"", None
        caller = caller_key(record.auth, record.installation_id) if record is not None else "anonymous"
        headers = self._rate.budget(caller, resource).headers(extra, resource, consume=consume)
        if content_type is not None:
            headers["Content-Type"] = content_type
        if check is not None and self.contract_checks:
            self._check_outgoing(*check, status, headers, data)
        return web.Response(status=status, body=data, headers=headers)

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
        elif parts.path.startswith("/login/oauth/"):  # github.com's sign-in, not the API (github_oauth.py)
            record.operation_id, response = await oauth_web(self.world, request.method, parts.path, record.query,
                                                            raw, headers)
        else:
            response = await self._rest(request.method, request.raw_path, headers, raw, record)
        record.status = response.status
        record.answered_at = time.monotonic()
        return response

    async def _rest(
        self, method: str, path_qs: str, headers: dict[str, str], raw: bytes, record: RecordedRequest
    ) -> web.StreamResponse:
        """Route, check the request, take a fault, run the handler; the contract check runs first, so a
        malformed request is a violation even when a fault is scripted for it."""
        try:
            matched = self.checker.operation_for(method, path_qs)
        except ContractViolation as violation:
            return self._refuse(violation, routed=False)
        record.operation_id, record.path_params = matched.operation_id, matched.path_params
        try:
            if self.contract_checks:
                self.checker.check_request(method, path_qs, headers, raw)
        except ContractViolation as violation:
            return self._refuse(violation, routed=True)
        fault = self._faults.take(method.upper(), record.path, (matched.operation_id, matched.template))
        if fault is not None:
            return fault_response(fault)
        try:
            reply = await self._handle(matched, method, headers, record)
        except Exception as error:  # a bug in the fake must fail the test, not hide as a bot-side 500
            detail = f"FAKE BUG: {type(error).__name__}: {error}"
            self._violate(ContractViolation(method, record.path, "response-body", detail))
            return self._respond(Reply(500, error_body("Server Error")), record=record)
        return self._respond(reply, check=(method, path_qs, headers, raw), record=record)

    async def _handle(
        self, matched: MatchedOperation, method: str, headers: dict[str, str], record: RecordedRequest
    ) -> Reply:
        """Authorize the caller and run the operation's handler; an HttpError becomes its reply."""
        try:
            creds = authorize(self.world, matched.operation_id, headers, matched.path_params)
            record.auth = creds.kind
            record.installation_id = creds.token.installation_id if creds.token is not None else None
            call = Call(
                matched.operation_id,
                method.upper(),
                record.path,
                matched.path_params,
                record.query,
                record.json,
                headers,
                creds,
            )
            return await self.rest.handlers[matched.operation_id](call)
        except HttpError as error:
            return error.reply()

    def _refuse(self, violation: ContractViolation, routed: bool) -> web.Response:
        self._violate(violation)
        return self._respond(_refusal(violation, routed))

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
        """Record an answer the description does not allow as a FAKE BUG violation."""
        try:
            if self.checker.response_documented(method, path_qs, status) or status not in GENERIC_ERRORS:
                self.checker.check_response(method, path_qs, req_headers, req_body, status, resp_headers, body)
                return
            ref = "#/components/schemas/validation-error" if status == 422 else "#/components/schemas/basic-error"
            errors = self.checker.schema_errors(ref, json.loads(body) if body else {})
            if errors:
                raise ContractViolation(method, urlsplit(path_qs).path, "response-body", "; ".join(errors))
        except ContractViolation as violation:
            detail = f"FAKE BUG: {violation.detail}"
            self._violate(ContractViolation(violation.method, violation.path, violation.kind, detail))

    async def _graphql(
        self, method: str, headers: dict[str, str], raw: bytes, record: RecordedRequest
    ) -> web.StreamResponse:
        """POST /graphql with an installation token; schema errors are violations and `errors` answers.
        A fault scripted for "/graphql" (or "graphql") answers instead, before authentication."""
        record.operation_id = "graphql"
        if method != "POST":
            self._violate(ContractViolation(method, "/graphql", "operation", "only POST /graphql exists"))
            return self._respond(Reply(404, error_body("Not Found")))
        fault = self._faults.take("POST", "/graphql", ("graphql",))
        if fault is not None:
            return fault_response(fault)
        try:
            creds = authenticate(headers, self.world.apps, self.world.tokens, self.world.clock)
        except AuthError as error:
            return self._respond(Reply(401, error_body(error.message)))
        record.auth = creds.kind
        record.installation_id = creds.token.installation_id if creds.token is not None else None
        if creds.kind != "token" or creds.token is None:
            return self._respond(Reply(401, error_body("This endpoint requires you to be authenticated.")))
        try:
            payload = json.loads(raw)
            if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
                raise GraphQLContract("A GraphQL request is a JSON object with a string 'query'")
            unknown = set(payload) - {"query", "variables", "operationName"}
            if unknown:
                raise GraphQLContract(f"Unknown keys in the GraphQL request: {sorted(unknown)}")
            inst = self.world.installations[creds.token.installation_id]
            self._graphql_actor = self.world.apps[inst.app_id].bot_login
            name, body = self.graphql.execute(
                payload["query"], payload.get("variables"), lambda repo: graphql_refusal(self.world, creds, repo)
            )
            record.operation_id = f"graphql/{name}"
        except (GraphQLContract, ValueError) as error:
            self._violate(ContractViolation("POST", "/graphql", "body", str(error)))
            body = {"errors": [{"message": str(error), "locations": [{"line": 1, "column": 1}]}]}
        return self._respond(Reply(200, body), resource="graphql", record=record)
