"""GitHub API clients: one gidgethub aiohttp client per installation on one shared session.

`GitHubClients.app()` talks as the App (JWT); `GitHubClients.installation(id)` as an installation
(token). Each request asks for its credential when it is sent, so a long-lived client never carries
an expired token; a 401 drops the cached token and the request is sent once more with a fresh one.

Retries (decisions):
- 5xx answers and network errors: up to `retries` more attempts, backoff 0.5 s, 1 s, 2 s, ...
- Secondary rate limit (403/429 with `Retry-After`): wait that many seconds, then retry; without
  `Retry-After`: wait at least a minute (see below).
- Primary rate limit (403/429 with `X-RateLimit-Remaining: 0`): wait until `X-RateLimit-Reset`.
- Before a request, when the last answer said the budget is spent, wait for its reset.
- No wait is longer than `max_rate_limit_wait` seconds (setting GITHUB_MAX_RATE_LIMIT_WAIT): past
  that the error goes up to the caller, whose job is retried later by the job queue instead of
  holding a worker for an hour. Such an error is `RateLimited` (bot/github/rate.py), never a
  `BadRequest`, so a rate limit is never read as "no permission" or "not found".

GitHub's rate budget (details and sources in bot/github/rate.py):
- Writes (POST/PATCH/PUT/DELETE, GraphQL mutations) of one client, i.e. of one installation or of the
  App, go one at a time through the client's write queue; reads are not serialized. Under pressure (a
  rate limit within 5 minutes, or under 10 % of the primary budget left) writes start >= 1 s apart.
- A 403/429 rate limit without `Retry-After` and with budget left (a secondary limit) waits 60 s, doubled
  at each further attempt; a 403 that is not a rate limit (a missing permission) goes up at once.
- Conditional requests: each client has its own bounded ETag cache (never shared between
  installations), so a repeated GET is sent with `If-None-Match` and a `304` answer, which does not
  count against the rate limit, is served from the cache.
"""

from __future__ import annotations

import asyncio
import http
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from gidgethub import GitHubBroken, HTTPException
from gidgethub import aiohttp as gh_aiohttp

from bot.github.auth import AppJWT, InstallationToken, InstallationTokens, parse_expiry
from bot.github.rate import (
    ConditionalCache,
    RateLimited,
    WriteQueue,
    body_message,
    is_graphql,
    is_write,
    message_of,
    rate_limit_wait,
)
from bot.runtime.redaction import register_secret

__all__ = ["BotGitHubAPI", "GitHubClients", "RateLimited", "backoff", "convert_manifest", "rate_limit_wait"]

log = logging.getLogger(__name__)

USER_AGENT = "codegen-bot"
Credential = Callable[[], Awaitable[tuple[str, str]]]
Sleep = Callable[[float], Awaitable[None]]


class BotGitHubAPI(gh_aiohttp.GitHubAPI):
    """gidgethub's aiohttp client with per-request credentials, retries, rate-limit waits, a serial
    write queue and its own ETag cache."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        credential: Credential | None,
        on_unauthorized: Callable[[str], None] | None = None,
        retries: int = 3,
        max_wait: float = 900.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.etags = ConditionalCache()  # this client's own: never shared with another installation
        super().__init__(session, USER_AGENT, base_url=base_url, cache=self.etags)
        self._credential = credential
        self._on_unauthorized = on_unauthorized
        self._retries = retries
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self.waits: list[float] = []  # every wait taken, for tests and the log
        self.writes = WriteQueue(clock=clock, sleep=self.sleep, max_wait=max_wait, budget=lambda: self.rate_limit)

    def __repr__(self) -> str:
        return f"BotGitHubAPI(base_url={self.base_url!r})"

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self._sleep(seconds)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        if not is_graphql(url):
            return await self._queued(method, url, headers, body)
        attempt = 0
        while True:  # gidgethub's graphql() has no rate-limit hook: the REST rules are applied here
            attempt += 1
            status, response_headers, data = await self._queued(method, url, headers, body)
            message = body_message(data)
            wait = rate_limit_wait(status, response_headers, self._clock(), message, attempt)
            if wait is None:
                return status, response_headers, data
            await self._wait_or_give_up(status, response_headers, message, wait, attempt, url)

    async def _queued(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Writes one at a time through the client's write queue; reads only wait out a rate limit."""
        if is_write(method, url, body):
            async with self.writes.write(url):
                return await self._authorized(method, url, headers, body)
        await self.writes.paused(url)
        return await self._authorized(method, url, headers, body)

    async def _authorized(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send with the current credential; a refused credential is replaced and the request sent once
        more (a cached GET keeps its If-None-Match, so a 304 still answers from the cache)."""
        explicit = any(name.lower() == "authorization" for name in headers)
        for auth_attempt in range(2):
            sent = dict(headers)
            value = ""
            if self._credential is not None and not explicit:
                scheme, value = await self._credential()
                sent["authorization"] = f"{scheme} {value}"
            status, response_headers, data = await self._send(method, url, sent, body)
            if status == 401 and auth_attempt == 0 and value and self._on_unauthorized is not None:
                log.warning("GitHub refused a credential; fetching a new one", extra={"url": url})
                self._on_unauthorized(value)
                continue
            return status, response_headers, data
        raise AssertionError("unreachable")

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await super()._request(method, url, headers, body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                if attempt > self._retries:
                    raise
                delay = backoff(attempt)
                log.warning("GitHub request failed (%s); retry in %.1fs", type(exc).__name__, delay,
                            extra={"url": url})
                await self.sleep(delay)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        if isinstance(exception, GitHubBroken) or exception.status_code >= 500:
            if attempt > self._retries:
                return False
            delay = backoff(attempt)
            log.warning("GitHub answered %d; retry in %.1fs", exception.status_code, delay,
                        extra={"url": url})
            await self.sleep(delay)
            return True
        headers = getattr(exception, "headers", None) or {}
        message = message_of(exception)
        wait = rate_limit_wait(exception.status_code, headers, self._clock(), message, attempt)
        if wait is None:
            return False  # not a rate limit (e.g. a 403 for a missing permission): the caller's to handle
        await self._wait_or_give_up(exception.status_code, headers, message, wait, attempt, url)
        return True

    async def _wait_or_give_up(
        self, status: int, headers: Mapping[str, str], message: str, wait: float, attempt: int, url: str
    ) -> None:
        """Wait out a rate-limit answer (the whole client pauses with it), or raise RateLimited when the
        wait is longer than `max_wait` or the retries are used up."""
        self.writes.limited(status, wait)
        if attempt > self._retries or wait > self._max_wait:
            log.warning("GitHub rate limit for %.0fs (attempt %d); the bot waits at most %.0fs and %d retries",
                        wait, attempt, self._max_wait, self._retries, extra={"url": url})
            raise RateLimited(http.HTTPStatus(status), message or "GitHub rate limit", wait=wait, headers=headers)
        log.warning("GitHub rate limit; waiting %.1fs", wait, extra={"url": url})
        await self.sleep(wait)

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        limit = self.rate_limit
        if limit is None or limit.remaining > 0:
            return
        wait = limit.reset_datetime.timestamp() - self._clock()
        if 0 < wait <= self._max_wait:
            log.warning("GitHub rate limit spent; waiting %.1fs for its reset", wait, extra={"url": url})
            await self.sleep(wait)
            limit.remaining = limit.limit


def backoff(attempt: int) -> float:
    return min(0.5 * 2 ** (attempt - 1), 30.0)


class GitHubClients:
    """The App's API clients; installation clients are created once and reused."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        app_id: int | str,
        private_key: str,
        api_url: str = "https://api.github.com",
        max_rate_limit_wait: float = 900.0,
        retries: int = 3,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self._options: dict[str, Any] = {
            "retries": retries, "max_wait": max_rate_limit_wait, "sleep": sleep, "clock": clock,
        }
        self._jwt = AppJWT(app_id, private_key, clock=clock)
        self.tokens = InstallationTokens(self._request_token, clock=clock)
        self._app: BotGitHubAPI | None = None
        self._installations: dict[int, BotGitHubAPI] = {}

    def __repr__(self) -> str:
        return f"GitHubClients(api_url={self.api_url!r})"

    def app(self) -> BotGitHubAPI:
        if self._app is None:
            async def credential() -> tuple[str, str]:
                return "bearer", self._jwt.get()

            self._app = BotGitHubAPI(self.session, base_url=self.api_url, credential=credential,
                                     **self._options)
        return self._app

    def installation(self, installation_id: int) -> BotGitHubAPI:
        client = self._installations.get(installation_id)
        if client is None:
            async def credential() -> tuple[str, str]:
                return "token", await self.tokens.get(installation_id)

            client = BotGitHubAPI(
                self.session, base_url=self.api_url, credential=credential,
                on_unauthorized=lambda token: self.tokens.invalidate(installation_id, token),
                **self._options,
            )
            self._installations[installation_id] = client
        return client

    async def token_for(self, installation_id: int) -> str:
        """The installation token itself (for `git fetch`); never log or store it."""
        return await self.tokens.get(installation_id)

    async def _request_token(self, installation_id: int) -> InstallationToken:
        data = await self.app().post(
            "/app/installations/{installation_id}/access_tokens",
            url_vars={"installation_id": str(installation_id)}, data={},
        )
        register_secret(data["token"])  # masked in every log line and text from now on
        log.info("installation token issued", extra={"installation_id": installation_id})
        return InstallationToken(token=data["token"], expires_at=parse_expiry(data["expires_at"]))


async def convert_manifest(session: aiohttp.ClientSession, api_url: str, code: str) -> dict[str, Any]:
    """Exchange a manifest-flow code for the new App's credentials (no authentication needed)."""
    gh = gh_aiohttp.GitHubAPI(session, USER_AGENT, base_url=api_url.rstrip("/"))
    data = await gh.post("/app-manifests/{code}/conversions", url_vars={"code": code}, data=b"")
    return dict(data)
