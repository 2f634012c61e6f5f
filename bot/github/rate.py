"""GitHub's rate budget as one API client keeps it: the serial write queue, rate-limit answers, ETags.

What GitHub says (sources: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api ,
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api ,
https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api ):
- An installation may make 5,000 requests an hour (the primary limit, `x-ratelimit-*` headers).
- Secondary limits: requests that create content are limited to about 80 a minute and 500 an hour.
  GitHub advises making mutative requests (POST, PATCH, PUT, DELETE) serially, not concurrently, and
  waiting at least one second between them when many are made.
- A secondary-limit answer is a 403 or 429. If it has `retry-after`, wait that many seconds; else if
  `x-ratelimit-remaining` is 0, wait until `x-ratelimit-reset`; else wait at least one minute, and
  longer (exponentially) while it keeps happening. Requests sent while limited can get the App banned.
- GET answers carry an `ETag`; a GET with a matching `If-None-Match` is answered `304 Not Modified`
  without a body, and a 304 does not count against the primary limit.

Decisions:
- `WriteQueue`: one per API client, so one per installation (plus one for the App's JWT client). Every
  write of the client (any method but GET/HEAD/OPTIONS; a GraphQL document that is a `mutation`) holds
  its lock while it is sent, so the client's writes go one at a time. Reads are not serialized.
- "Under pressure" means: this client got a rate-limit answer within the last `PRESSURE_WINDOW`
  (5 minutes), or its last known primary budget is below `PRESSURE_FRACTION` (10 %) of the limit.
  Under pressure, successive writes *start* at least `WRITE_SPACING` (1 s) apart.
- A rate-limit answer pauses the whole client (reads and writes) until its wait is over; a request that
  would have to wait longer than the client's `max_wait` raises `RateLimited` without being sent.
- A 403 is a rate limit only when GitHub says so (`retry-after`, `x-ratelimit-remaining: 0`, or a message
  mentioning "rate limit", e.g. "You have exceeded a secondary rate limit"); any other 403 (e.g.
  "Resource not accessible by integration") is a permission refusal and goes up at once. A 429 is
  always a rate limit.
- Without `retry-after` or a spent budget the wait is 60 s, doubled at each further attempt.
- A limit that cannot be waited out raises `RateLimited`, an `HTTPException` but not a `BadRequest`,
  so callers that read a `BadRequest` 403/404 as "no permission"/"not found" never mistake it.
- `ConditionalCache`: gidgethub's ETag cache, one per client (never shared between installations),
  at most `ETAG_CACHE_ENTRIES` entries and `ETAG_CACHE_BYTES` bytes (least recently used dropped first);
  answers are kept serialized, so a caller that changes what it got cannot change the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from cachetools import LRUCache
from gidgethub import HTTPException
from gidgethub.sansio import RateLimit

log = logging.getLogger(__name__)

PRESSURE_WINDOW = 300.0
PRESSURE_FRACTION = 0.1
WRITE_SPACING = 1.0
SECONDARY_WAIT = 60.0
ETAG_CACHE_ENTRIES = 500
ETAG_CACHE_BYTES = 4 * 1024 * 1024
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MUTATION = re.compile(r"(?:\A|\})\s*mutation\b")  # a mutation operation: first, or after another one

Sleep = Callable[[float], Awaitable[None]]
CacheEntry = tuple[str | None, str | None, Any, str | None]  # etag, last-modified, data, next page


class RateLimited(HTTPException):
    """GitHub's rate limit, not waited out (too long, or retries used up); the job is retried later.

    Deliberately not a `gidgethub.BadRequest`: a caller that treats a 403 `BadRequest` as "no permission"
    or "not protected" must not see a rate limit there. `wait`: seconds until GitHub said it clears."""

    def __init__(
        self, status_code: http.HTTPStatus, message: str, *, wait: float, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message, headers=headers)
        self.wait = wait


def is_rate_limit(status: int, headers: Mapping[str, str], message: str = "") -> bool:
    """Whether a 403/429 answer is a rate limit (primary or secondary) rather than a refusal."""
    if status not in (403, 429):
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    if status == 429 or "retry-after" in lowered or lowered.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in message.lower()


def rate_limit_wait(
    status: int, headers: Mapping[str, str], now: float, message: str = "", attempt: int = 1
) -> float | None:
    """Seconds to wait before retrying a rate-limited answer; None when the answer is no rate limit.
    `attempt`: the 1-based attempt that was answered (the one-minute wait doubles with each)."""
    if not is_rate_limit(status, headers, message):
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(retry_after))
    if lowered.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in lowered:
        with contextlib.suppress(ValueError):
            return max(0.0, float(lowered["x-ratelimit-reset"]) - now) + 1.0
    return SECONDARY_WAIT * 2 ** max(0, attempt - 1)


def message_of(exception: HTTPException) -> str:
    """The message GitHub gave with an error answer ("" when none)."""
    return " ".join(str(arg) for arg in exception.args if isinstance(arg, str))


def body_message(body: bytes) -> str:
    """The `message` of a JSON error body ("" when there is none)."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return ""
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def is_graphql(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("/graphql")


def is_write(method: str, url: str, body: bytes) -> bool:
    """Whether a request changes something: every method but GET/HEAD/OPTIONS, except a GraphQL query
    (a POST whose document is not a mutation)."""
    if method.upper() in READ_METHODS:
        return False
    if method.upper() != "POST" or not is_graphql(url):
        return True
    try:
        document = json.loads(body).get("query", "")
    except (ValueError, AttributeError):
        return True
    text = "\n".join(line.split("#", 1)[0] for line in str(document).splitlines())
    return MUTATION.search(text) is not None


class WriteQueue:
    """One client's writes, sent one at a time, and the client's rate-limit state (module docstring)."""

    def __init__(
        self, *, clock: Callable[[], float], sleep: Sleep, max_wait: float,
        budget: Callable[[], RateLimit | None],
    ) -> None:
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._budget = budget
        self.last_write_start: float | None = None
        self.limited_at: float | None = None  # when the last rate-limit answer arrived
        self.resume_at = 0.0  # no request is sent before this (a rate limit being waited out)
        self._limited_status = http.HTTPStatus.FORBIDDEN

    def limited(self, status: int, wait: float) -> None:
        """A rate-limit answer arrived: pressure from now on, and nothing is sent for `wait` seconds."""
        now = self._clock()
        self.limited_at = now
        self.resume_at = max(self.resume_at, now + wait)
        self._limited_status = http.HTTPStatus(status)

    def under_pressure(self) -> bool:
        now = self._clock()
        if self.limited_at is not None and now - self.limited_at < PRESSURE_WINDOW:
            return True
        budget = self._budget()
        return budget is not None and budget.limit > 0 and budget.remaining < budget.limit * PRESSURE_FRACTION

    async def paused(self, url: str) -> None:
        """Wait while a rate limit another request got is not over (RateLimited past `max_wait`)."""
        wait = self.resume_at - self._clock()
        if wait <= 0:
            return
        if wait > self._max_wait:
            raise RateLimited(self._limited_status, f"GitHub rate limit for {wait:.0f}s more; not sent",
                              wait=wait)
        log.warning("GitHub rate limit; request held %.1fs", wait, extra={"url": url})
        await self._sleep(wait)

    @contextlib.asynccontextmanager
    async def write(self, url: str) -> AsyncIterator[None]:
        """Hold the client's write slot: one write at a time, started ≥ WRITE_SPACING apart under pressure."""
        async with self._lock:
            await self.paused(url)
            if self.last_write_start is not None and self.under_pressure():
                gap = self.last_write_start + WRITE_SPACING - self._clock()
                if gap > 0:
                    await self._sleep(gap)
            self.last_write_start = self._clock()
            yield


class ConditionalCache(MutableMapping[str, CacheEntry]):
    """gidgethub's `cache=` for ETags: bounded in entries and bytes; data kept as JSON text."""

    def __init__(self, max_entries: int = ETAG_CACHE_ENTRIES, max_bytes: int = ETAG_CACHE_BYTES) -> None:
        self._entries: LRUCache[str, tuple[str | None, str | None, str, str | None]] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: len(entry[2]) + 200
        )
        self._max_entries = max_entries

    def __getitem__(self, url: str) -> CacheEntry:
        etag, last_modified, text, more = self._entries[url]
        return etag, last_modified, json.loads(text), more

    def __setitem__(self, url: str, entry: CacheEntry) -> None:
        etag, last_modified, data, more = entry
        try:
            text = json.dumps(data, separators=(",", ":"))
            self._entries[url] = (etag, last_modified, text, more)
        except (TypeError, ValueError):  # not JSON, or bigger than the whole cache: not kept
            self._entries.pop(url, None)
            return
        while len(self._entries) > self._max_entries:
            self._entries.popitem()

    def __delitem__(self, url: str) -> None:
        del self._entries[url]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ConditionalCache({len(self)} entries)"
