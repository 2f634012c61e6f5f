"""Poll the deployed app's health URL until it answers 2xx/3xx or the time is up.

Decisions: the proxy settings of the environment are ignored (the app is on a bridge of this host); redirects are
not followed (a 3xx means the server is up); each attempt waits at most 5 s; between attempts 0.2 s,
growing to 1 s.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    status: int | None
    attempts: int
    elapsed: float
    error: str | None = None


async def wait_healthy(url: str, timeout: float) -> HealthResult:
    started = time.monotonic()
    deadline = started + timeout
    attempts = 0
    status: int | None = None
    error: str | None = None
    delay = 0.2
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        while True:
            attempts += 1
            try:
                left = max(0.1, min(5.0, deadline - time.monotonic()))
                response = await client.get(url, timeout=left)
                status, error = response.status_code, None
                if 200 <= status < 400:
                    return HealthResult(True, status, attempts, time.monotonic() - started)
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            if time.monotonic() + delay >= deadline:
                return HealthResult(False, status, attempts, time.monotonic() - started, error)
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 1.5)
