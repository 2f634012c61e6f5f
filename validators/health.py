"""Poll the deployed app's health URL until it answers 2xx/3xx or the time is up.

Decisions: the proxy settings of the environment are ignored (the app is on a bridge of this host); redirects are
not followed (a 3xx means the server is up); each attempt waits at most 5 s; between attempts 0.2 s,
growing to 1 s.
`get` replaces the HTTP request: for an engine on another host the request is made from a probe container on
the snapshot's app network (validators/engine_host.py); it returns the status or raises `ProbeError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx


class ProbeError(RuntimeError):
    """One attempt got no HTTP answer (the message says why)."""


#: one attempt: (url, seconds) → the HTTP status
Get = Callable[[str, float], Awaitable[int]]


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    status: int | None
    attempts: int
    elapsed: float
    error: str | None = None


async def wait_healthy(url: str, timeout: float, get: Get | None = None) -> HealthResult:
    if get is not None:
        return await _poll(url, timeout, get)
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        async def direct(target: str, seconds: float) -> int:
            return (await client.get(target, timeout=seconds)).status_code

        return await _poll(url, timeout, direct)


async def _poll(url: str, timeout: float, get: Get) -> HealthResult:
    started = time.monotonic()
    deadline = started + timeout
    attempts = 0
    status: int | None = None
    error: str | None = None
    delay = 0.2
    while True:
        attempts += 1
        try:
            left = max(0.1, min(5.0, deadline - time.monotonic()))
            status, error = await get(url, left), None
            if 200 <= status < 400:
                return HealthResult(True, status, attempts, time.monotonic() - started)
        except (httpx.HTTPError, ProbeError) as exc:
            status, error = None, f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        if time.monotonic() + delay >= deadline:
            return HealthResult(False, status, attempts, time.monotonic() - started, error)
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 1.5)
