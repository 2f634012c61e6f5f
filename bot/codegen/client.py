"""The Codegen API client (httpx, async): create, get, list and resume agent runs.

Decisions:
- Rate limits are respected before they bite: a client-side sliding window allows 10 run creations per
  minute and 60 requests per 30 seconds (Codegen's documented limits); a caller over the limit waits.
- 429: wait `Retry-After` (default 30 s, at most `max_wait`), then retry; 5xx and network errors: retry
  with backoff (1 s, 2 s, 4 s). After `max_retries` the error goes to the caller (the job queue retries
  the job later). 402 (quota), 403, 404 and 422 are not retried: they will not change by waiting.
- The token is sent only in the Authorization header: it never appears in an exception, a repr or a log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger(__name__)

TERMINAL = frozenset({"COMPLETE", "FAILED", "ERROR", "CANCELLED", "STOPPED"})
CREATE_LIMIT = (10, 60.0)
REQUEST_LIMIT = (60, 30.0)


@dataclass(frozen=True)
class RunPullRequest:
    id: int | None
    title: str | None
    url: str | None
    head_branch_name: str | None
    created_at: str | None = None


@dataclass(frozen=True)
class AgentRun:
    id: int
    organization_id: int
    status: str | None
    web_url: str | None = None
    result: str | None = None
    summary: str | None = None
    source_type: str | None = None
    created_at: str | None = None
    github_pull_requests: list[RunPullRequest] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return (self.status or "").upper() in TERMINAL

    @property
    def succeeded(self) -> bool:
        return (self.status or "").upper() == "COMPLETE"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> AgentRun:
        prs = [
            RunPullRequest(
                id=pr.get("id"), title=pr.get("title"), url=pr.get("url"),
                head_branch_name=pr.get("head_branch_name"), created_at=pr.get("created_at"),
            )
            for pr in data.get("github_pull_requests") or []
        ]
        metadata = data.get("metadata")
        return cls(
            id=int(data["id"]),
            organization_id=int(data["organization_id"]),
            status=data.get("status"),
            web_url=data.get("web_url"),
            result=data.get("result"),
            summary=data.get("summary"),
            source_type=data.get("source_type"),
            created_at=data.get("created_at"),
            github_pull_requests=prs,
            metadata=metadata if isinstance(metadata, dict) else None,
        )


class CodegenError(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"Codegen API error {status}: {message}" if status else f"Codegen API error: {message}")
        self.status = status
        self.message = message


class CodegenQuotaReached(CodegenError):
    """402: the organisation's agent-run quota is used up."""


class CodegenForbidden(CodegenError):
    """403: the token has no access to the organisation."""


class CodegenNotFound(CodegenError):
    """404: no such run (or organisation)."""


class CodegenRateLimited(CodegenError):
    """429 even after waiting. Not a refusal: the caller tries again after `retry_after` seconds."""

    def __init__(self, status: int | None, message: str, retry_after: float = 30.0) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class CodegenUnavailable(CodegenError):
    """5xx or network failure after the retries."""


def _retry_after(value: str | None) -> float:
    """Codegen's Retry-After in seconds (30 when absent or unreadable)."""
    try:
        return max(1.0, float(value)) if value is not None else 30.0
    except ValueError:
        return 30.0


_BY_STATUS: dict[int, type[CodegenError]] = {
    402: CodegenQuotaReached, 403: CodegenForbidden, 404: CodegenNotFound, 429: CodegenRateLimited,
}


class SlidingWindow:
    """At most `limit` events per `period` seconds; `acquire` waits for room."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._events: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Take a slot; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                while self._events and now - self._events[0] >= self.period:
                    self._events.popleft()
                if len(self._events) < self.limit:
                    self._events.append(now)
                    return waited
                delay = self.period - (now - self._events[0])
                waited += delay
                await self._sleep(delay)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        if "message" in body:
            return str(body["message"])
        if "detail" in body:
            return str(body["detail"])[:300]
    return str(body)[:300]


class CodegenClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 3,
        max_wait: float = 120.0,
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "codegen-bot"},
        )
        self._max_retries = max_retries
        self._max_wait = max_wait
        self._sleep = sleep
        self.creates = SlidingWindow(*CREATE_LIMIT, clock=clock, sleep=sleep)
        self.requests = SlidingWindow(*REQUEST_LIMIT, clock=clock, sleep=sleep)
        self.waits: list[float] = []

    def __repr__(self) -> str:
        return f"CodegenClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self._sleep(seconds)

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                    create: bool = False) -> Any:
        attempt = 0
        while True:
            attempt += 1
            if create:
                await self.creates.acquire()
            await self.requests.acquire()
            try:
                response = await self._http.request(method, path, json=json, params=params)
            except httpx.HTTPError as exc:
                if attempt > self._max_retries:
                    raise CodegenUnavailable(None, f"{type(exc).__name__} talking to Codegen") from None
                await self._wait(2 ** (attempt - 1))
                continue
            if response.status_code < 400:
                return response.json()
            message = _message(response)
            if response.status_code == 429 and attempt <= self._max_retries:
                try:
                    delay = float(response.headers.get("retry-after", "30"))
                except ValueError:
                    delay = 30.0
                if delay <= self._max_wait:
                    log.warning("Codegen rate limit; waiting %.0fs", delay)
                    await self._wait(delay)
                    continue
            if response.status_code >= 500 and attempt <= self._max_retries:
                log.warning("Codegen answered %d; retrying", response.status_code)
                await self._wait(2 ** (attempt - 1))
                continue
            if response.status_code >= 500:
                raise CodegenUnavailable(response.status_code, message)
            if response.status_code == 429:
                raise CodegenRateLimited(429, message, _retry_after(response.headers.get("retry-after")))
            raise _BY_STATUS.get(response.status_code, CodegenError)(response.status_code, message)

    async def create_run(self, org_id: int, prompt: str, *, metadata: dict[str, Any] | None = None,
                         repo_id: int | None = None) -> AgentRun:
        body: dict[str, Any] = {"prompt": prompt}
        if metadata is not None:
            body["metadata"] = metadata
        if repo_id is not None:
            body["repo_id"] = repo_id
        data = await self._call("POST", f"/v1/organizations/{org_id}/agent/run", json=body, create=True)
        return AgentRun.from_api(data)

    async def get_run(self, org_id: int, run_id: int) -> AgentRun:
        return AgentRun.from_api(await self._call("GET", f"/v1/organizations/{org_id}/agent/run/{run_id}"))

    async def list_runs(self, org_id: int, *, limit: int = 100, skip: int = 0,
                        source_type: str | None = None) -> list[AgentRun]:
        params: dict[str, Any] = {"limit": limit, "skip": skip}
        if source_type:
            params["source_type"] = source_type
        data = await self._call("GET", f"/v1/organizations/{org_id}/agent/runs", params=params)
        return [AgentRun.from_api(item) for item in data.get("items") or []]

    async def resume_run(self, org_id: int, run_id: int, prompt: str) -> AgentRun:
        data = await self._call(
            "POST", f"/v1/organizations/{org_id}/agent/run/resume", json={"agent_run_id": run_id, "prompt": prompt}
        )
        return AgentRun.from_api(data)

    async def remove_from_pr(self, org_id: int, run_id: int) -> None:
        await self._call("POST", f"/v1/organizations/{org_id}/agent/run/remove-from-pr",
                         json={"agent_run_id": run_id})
