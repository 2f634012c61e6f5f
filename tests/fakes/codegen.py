"""A fake Codegen API (aiohttp on 127.0.0.1) that holds the bot to Codegen's published contract.

Every request is checked against tests/fixtures/codegen/codegen-openapi3.json (Codegen's official
OpenAPI 3.1 description) and every answer it sends is checked too; any mismatch is recorded in
`violations` and the `fake_codegen` fixture fails the test. Behaviour follows codegen-api.md:
`Authorization: Bearer <token>` (else 403), organisation scoping (another org: 403), 404 for unknown
runs, 402 when the quota is reached, 429 with `Retry-After` when a test injects it.

    FakeCodegen(token="cg-test-token", org_id=77)
    await start() / await close(); url
    script(prompt_contains, steps)   the next run created with a matching prompt follows `steps`
    script_resume(run_id, steps)     the next resume of that run follows `steps`
    fail_next(method, path_glob, status, times=1, retry_after=None)
    runs: dict[int, FakeRun]; requests: list[Recorded]; calls(operation_id)

A step is a dict of AgentRunResponse fields (status, result, github_pull_requests, web_url ...). Each GET
of a run moves it one step forward (the last step stays), which is how a run "progresses" in tests.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from tests.fakes.openapi_check import ContractViolation, OpenAPIChecker
from tests.fakes.service import Faults, LocalServer

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "codegen" / "codegen-openapi3.json"
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"status": "ACTIVE"},
    {"status": "COMPLETE", "result": "Done."},
]


@dataclass
class FakeRun:
    id: int
    organization_id: int
    prompt: str
    metadata: dict[str, Any] | None
    steps: list[dict[str, Any]]
    position: int = 0
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    prompts: list[str] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        base: dict[str, Any] = {
            "id": self.id,
            "organization_id": self.organization_id,
            "status": "PENDING",
            "created_at": self.created_at,
            "web_url": f"https://codegen.com/agent/trace/{self.id}",
            "result": None,
            "summary": None,
            "source_type": "API",
            "github_pull_requests": [],
            "metadata": self.metadata,
        }
        for step in self.steps[: self.position + 1]:
            base.update(step)
        return base

    def advance(self) -> None:
        self.position = min(self.position + 1, len(self.steps) - 1)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    operation_id: str | None = None
    status: int | None = None
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)


class FakeCodegen:
    def __init__(self, token: str = "cg-test-token", org_id: int = 77) -> None:
        self.token = token
        self.org_id = org_id
        self.other_orgs: set[int] = set()
        self.checker = OpenAPIChecker(SPEC_PATH)
        self.runs: dict[int, FakeRun] = {}
        self.requests: list[Recorded] = []
        self.violations: list[ContractViolation] = []
        self.quota_left: int | None = None
        self._scripts: list[tuple[str, list[dict[str, Any]]]] = []
        self._resume_scripts: dict[int, list[dict[str, Any]]] = {}
        self._faults = Faults()
        self._next_id = 1000
        self._server = LocalServer(self._dispatch, client_max_size=10 * 1024 * 1024)
        self.url = ""

    # --- control ------------------------------------------------------------------------------
    def script(self, prompt_contains: str, steps: list[dict[str, Any]]) -> None:
        self._scripts.append((prompt_contains, steps))

    def script_resume(self, run_id: int, steps: list[dict[str, Any]]) -> None:
        self._resume_scripts[run_id] = steps

    def fail_next(self, method: str, path_glob: str, status: int, times: int = 1,
                  retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        message = {429: "Rate limit exceeded", 402: "Agent run limit reached"}.get(status, "Server error")
        self._faults.add(method, path_glob, status, headers, {"message": message, "status_code": status}, times)

    def calls(self, operation_id: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation_id == operation_id]

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self._server.start()
        self.url = self._server.url

    async def close(self) -> None:
        await self._server.close()

    # --- HTTP ---------------------------------------------------------------------------------
    def _reply(self, status: int, body: Any, *, check: tuple[str, str, dict[str, str], bytes] | None,
               headers: dict[str, str] | None = None) -> web.Response:
        data = json.dumps(body).encode()
        out = {"Content-Type": "application/json", **(headers or {})}
        if check is not None:
            method, path_qs, req_headers, raw = check
            try:
                self.checker.check_response(method, path_qs, req_headers, raw, status, out, data)
            except ContractViolation as violation:
                self.violations.append(violation)
        return web.Response(status=status, body=data, headers=out)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        headers = dict(request.headers)
        parts = urlsplit(request.raw_path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = Recorded(request.method, parts.path, dict(parse_qsl(parts.query)), body)
        self.requests.append(record)
        response = await self._handle(request.method, request.raw_path, headers, raw, record)
        record.status = response.status
        return response

    async def _handle(self, method: str, path_qs: str, headers: dict[str, str], raw: bytes,
                      record: Recorded) -> web.Response:
        check = (method, path_qs, headers, raw)
        try:
            record.operation_id = self.checker.check_request(method, path_qs, headers, raw)
            matched = self.checker.operation_for(method, path_qs)
        except ContractViolation as violation:
            self.violations.append(violation)
            if violation.kind == "operation":
                return self._reply(404, {"detail": "Not Found"}, check=None)
            return self._reply(422, {"detail": [{"loc": ["body"], "msg": violation.detail, "type": "value_error"}]},
                               check=None)
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(403, {"message": "Invalid or missing API token", "status_code": 403}, check=check)
        org_id = int(matched.path_params["org_id"])
        if org_id != self.org_id and org_id not in self.other_orgs:
            return self._reply(403, {"message": "You do not have access to this organization", "status_code": 403},
                               check=check)
        fault = self._faults.take(method, record.path)
        if fault is not None:
            # 5xx is not in Codegen's description (an outage is outside any contract): not checked
            return self._reply(fault.status, fault.body, check=check if fault.status < 500 else None,
                               headers=fault.headers)
        template = matched.template
        if method == "POST" and template.endswith("/agent/run"):
            return self._create(org_id, record.body, check)
        if method == "GET" and template.endswith("/agent/run/{agent_run_id}"):
            run = self._run(org_id, int(matched.path_params["agent_run_id"]))
            if run is None:
                return self._not_found(check)
            state = run.state()
            run.advance()
            return self._reply(200, state, check=check)
        if method == "GET" and template.endswith("/agent/runs"):
            return self._list(org_id, record.query, check)
        if method == "POST" and template.endswith("/agent/run/resume"):
            run = self._run(org_id, int(record.body["agent_run_id"]))
            if run is None:
                return self._not_found(check)
            run.prompts.append(record.body["prompt"])
            steps = self._resume_scripts.pop(run.id, None) or [{"status": "ACTIVE"},
                                                               {"status": "COMPLETE", "result": "Done again."}]
            run.steps = [run.state(), *steps]
            run.steps[0] = {**run.steps[0], "status": "ACTIVE"}
            run.position = 0
            return self._reply(200, run.state(), check=check)
        if method == "POST" and template.endswith("/agent/run/remove-from-pr"):
            run = self._run(org_id, int(record.body["agent_run_id"]))
            return self._reply(200, {}, check=None) if run else self._not_found(check)
        return self._reply(404, {"message": "not implemented by the fake", "status_code": 404}, check=None)

    def _not_found(self, check: tuple[str, str, dict[str, str], bytes]) -> web.Response:
        return self._reply(404, {"message": "Agent run not found", "status_code": 404}, check=check)

    def _run(self, org_id: int, run_id: int) -> FakeRun | None:
        run = self.runs.get(run_id)
        return run if run is not None and run.organization_id == org_id else None

    def _create(self, org_id: int, body: dict[str, Any], check: tuple[str, str, dict[str, str], bytes]) -> web.Response:
        if self.quota_left is not None:
            if self.quota_left <= 0:
                return self._reply(402, {"message": "Agent run limit reached", "status_code": 402}, check=check)
            self.quota_left -= 1
        prompt = body["prompt"]
        steps = list(DEFAULT_STEPS)
        for index, (needle, scripted) in enumerate(self._scripts):
            if needle in prompt:
                steps = scripted
                del self._scripts[index]
                break
        self._next_id += 1
        run = FakeRun(self._next_id, org_id, prompt, body.get("metadata"), [{"status": "PENDING"}, *steps])
        run.prompts.append(prompt)
        self.runs[run.id] = run
        return self._reply(200, run.state(), check=check)

    def _list(self, org_id: int, query: dict[str, str], check: tuple[str, str, dict[str, str], bytes]) -> web.Response:
        skip, limit = int(query.get("skip", 0)), int(query.get("limit", 100))
        runs = sorted((r for r in self.runs.values() if r.organization_id == org_id), key=lambda r: -r.id)
        items = [r.state() for r in runs[skip: skip + limit]]
        pages = max(1, -(-len(runs) // limit))
        return self._reply(200, {"items": items, "total": len(runs), "page": skip // limit + 1, "size": limit,
                                 "pages": pages}, check=check)
