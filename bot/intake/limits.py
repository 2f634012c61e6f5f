"""What an unverified webhook request may cost before its signature is checked.

Nothing an unauthenticated sender can do may hold the bot's memory or its workers:

- `Content-Encoding` (gzip, deflate, br, …) is refused with 415 before the body is read: GitHub never
  compresses deliveries, and inflating a compressed body is how 24 KB becomes 24 MiB before any check.
- A request's headers must arrive within `HEADER_TIMEOUT` seconds (the HTTP server closes a connection
  that has not completed a request by then: aiohttp's keep-alive timer, which also runs from the moment a
  connection opens) and its body within `BODY_TIMEOUT` seconds (408 otherwise).
- The body is read in chunks, as it arrives; every byte read counts against one budget shared by all the
  unverified requests of the process (`UNVERIFIED_BUDGET`, 64 MiB): a request that would go over it is
  answered 503 at once, and its bytes are given back as soon as the signature has been checked.
- GitHub's 25 MiB cap (413) is checked on `Content-Length` before reading, and again while reading.

Used by both intake paths (the core's own HTTP app and every intake process).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.intake.verification import MAX_BODY, TOO_LARGE, Rejection

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 10.0
UNVERIFIED_BUDGET = 64 * 1024 * 1024
CHUNK = 64 * 1024

ENCODED = Rejection(415, "Content-Encoding is not accepted: GitHub sends webhook bodies uncompressed")
SLOW_BODY = Rejection(408, f"the body did not arrive within {BODY_TIMEOUT:.0f} s")
BUSY = Rejection(503, "too many unverified request bodies in flight; retry")


def runner_options() -> dict[str, Any]:
    """`web.AppRunner` options for a server that takes webhooks (the keep-alive timer bounds header reads)."""
    return {"access_log": None, "keepalive_timeout": HEADER_TIMEOUT}


class UnverifiedBudget:
    """Bytes of unverified request bodies held at once, across every request of this process."""

    def __init__(self, limit: int = UNVERIFIED_BUDGET) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held = max(0, self.held - size)


class UnverifiedBody:
    """One request's body, read within the limits; `release()` once its signature has been checked."""

    def __init__(self, budget: UnverifiedBudget) -> None:
        self.budget = budget
        self.taken = 0

    def release(self) -> None:
        self.budget.give(self.taken)
        self.taken = 0

    async def read(self, request: web.Request) -> bytes | Rejection:
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return ENCODED
        if request.content_length is not None and request.content_length > MAX_BODY:
            return TOO_LARGE
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                while chunk := await request.content.read(CHUNK):
                    if len(body) + len(chunk) > MAX_BODY:
                        return TOO_LARGE
                    if not self.budget.take(len(chunk)):
                        return BUSY
                    self.taken += len(chunk)
                    body += chunk
        except TimeoutError:
            return SLOW_BODY
        return bytes(body)
