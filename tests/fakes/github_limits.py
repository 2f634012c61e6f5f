"""Rate limits and scripted faults of the fake GitHub.

- Every answer carries x-ratelimit-* headers and an x-github-request-id. Like GitHub, each caller has its
  own budget per resource ("core", "graphql"): every installation (by its token), the App (by its JWT),
  and everyone else together; 5000 an hour, starting over an hour after it began.
- Conditional requests (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api):
  every 200 answer to a GET carries a weak `ETag` (`W/"<sha256 of the body>"`); a GET whose
  `If-None-Match` names it is answered 304 without a body, and a 304 uses none of the budget.
- Scripted faults (service.py) are answered as scripted: no rate-limit headers, no contract check. A body
  that is bytes or str is sent as text/plain, anything else as JSON; without a body, GitHub's basic-error
  with the status's usual message.
- The rate-limit faults look like GitHub's: the secondary limit is 403 (or 429) with GitHub's "secondary
  rate limit" message, with or without Retry-After (GitHub omits it at times); the primary limit 403
  with x-ratelimit-remaining 0 and the reset time.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from tests.fakes.github_rest_base import JSON, error_body
from tests.fakes.service import Fault

RATE_LIMIT = 5000
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
REASONS = {
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
}


class RateBudget:
    """One caller's hourly budget behind the x-ratelimit-* headers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.used = 0
        self.reset = int(clock()) + 3600

    def headers(
        self, extra: Mapping[str, str] | None = None, resource: str = "core", *, consume: bool = True
    ) -> dict[str, str]:
        """Headers for one more answer, which uses one request of the budget unless not `consume` (a 304)."""
        now = int(self._clock())
        if now >= self.reset:
            self.used, self.reset = 0, now + 3600
        if consume:
            self.used += 1
        headers = {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(0, RATE_LIMIT - self.used)),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": resource,
            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
            "x-github-api-version-selected": "2022-11-28",
        }
        headers.update(extra or {})
        return headers

    @property
    def remaining(self) -> int:
        return max(0, RATE_LIMIT - self.used) if int(self._clock()) < self.reset else RATE_LIMIT


class RateBudgets:
    """A `RateBudget` per caller and resource; a caller is `caller_key(auth, installation_id)`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._budgets: dict[tuple[str, str], RateBudget] = {}

    def budget(self, caller: str, resource: str = "core") -> RateBudget:
        key = (caller, resource)
        if key not in self._budgets:
            self._budgets[key] = RateBudget(self._clock)
        return self._budgets[key]


def caller_key(auth: str, installation_id: int | None) -> str:
    """Whose budget a request uses: "installation:<id>", "app" (a JWT) or "anonymous"."""
    if installation_id is not None:
        return f"installation:{installation_id}"
    return "app" if auth == "jwt" else "anonymous"


def etag_of(body: bytes) -> str:
    """The weak validator the fake gives an answer: W/"<sha256 of the body>"."""
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as for GET; "*" matches any)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def default_fault_body(status: int) -> dict[str, Any]:
    return error_body(REASONS.get(status, "Error"), status)


def secondary_rate_limit(retry_after: int | None, status: int = 403) -> tuple[dict[str, str], dict[str, Any]]:
    """(headers, body) of GitHub's secondary rate limit answer (403, or 429); `retry_after` None: no
    Retry-After header (GitHub then says to wait at least a minute): only the message then tells it from
    a permission refusal ("Resource not accessible by integration")."""
    body = error_body(SECONDARY_LIMIT_MESSAGE, status, documentation_url=RATE_LIMIT_DOCS)
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers, body


def primary_rate_limit(reset: int) -> tuple[dict[str, str], dict[str, Any]]:
    """(headers, body) of GitHub's primary rate limit answer (403), the budget resetting at `reset`."""
    headers = {
        "x-ratelimit-limit": str(RATE_LIMIT),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": str(RATE_LIMIT),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    body = error_body("API rate limit exceeded for installation.", 403, documentation_url=RATE_LIMIT_DOCS)
    return headers, body


def fault_response(fault: Fault) -> web.Response:
    headers = dict(fault.headers)
    if isinstance(fault.body, bytes | str):
        data = fault.body.encode() if isinstance(fault.body, str) else fault.body
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        data = json.dumps(fault.body).encode()
        headers.setdefault("Content-Type", JSON)
    return web.Response(status=fault.status, body=data, headers=headers)
