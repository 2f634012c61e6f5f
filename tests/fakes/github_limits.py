"""Rate limits and scripted faults of the fake GitHub.

- Every answer carries x-ratelimit-* headers (limit 5000 per hour, one shared budget that starts over an
  hour after it began; the first begins when the fake is made) and an x-github-request-id.
- Scripted faults (service.py) are answered as scripted: no rate-limit headers, no contract check. A body
  that is bytes or str is sent as text/plain, anything else as JSON; without a body, GitHub's basic-error
  with the status's usual message.
- The rate-limit faults look like GitHub's: the secondary limit is 403 with Retry-After, the primary limit
  403 with x-ratelimit-remaining 0 and the reset time.
"""

from __future__ import annotations

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
    """The shared hourly budget behind the x-ratelimit-* headers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.used = 0
        self.reset = int(clock()) + 3600

    def headers(self, extra: Mapping[str, str] | None = None, resource: str = "core") -> dict[str, str]:
        """Headers for one more answer (which uses one request of the budget)."""
        now = int(self._clock())
        if now >= self.reset:
            self.used, self.reset = 0, now + 3600
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


def default_fault_body(status: int) -> dict[str, Any]:
    return error_body(REASONS.get(status, "Error"), status)


def secondary_rate_limit(retry_after: int) -> tuple[dict[str, str], dict[str, Any]]:
    """(headers, body) of GitHub's secondary rate limit answer (403)."""
    body = error_body(SECONDARY_LIMIT_MESSAGE, 403, documentation_url=RATE_LIMIT_DOCS)
    return {"Retry-After": str(retry_after)}, body


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
