"""GitHub App authentication: the App's JSON web token and cached installation tokens.

Decisions:
- The JWT is RS256, signed with the App's private key, valid for ten minutes minus the sixty seconds it
  is backdated (`iat` one minute in the past, GitHub's advice against clock drift). A JWT is cached and
  reused until two minutes before it expires.
- An installation token lives an hour on GitHub. It is cached per installation (a cachetools TLRU cache)
  and replaced five minutes before `expires_at`, so no request starts with a token about to lapse.
  A per-installation lock makes concurrent callers share one token request.
- Tokens and keys never reach a log line: the log names installations, not credentials.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import jwt
from cachetools import TLRUCache

JWT_LIFETIME = 600
JWT_BACKDATE = 60
JWT_REUSE_MARGIN = 120
TOKEN_REFRESH_MARGIN = 300


def make_app_jwt(app_id: int | str, private_key: str, now: float | None = None) -> str:
    """A JWT that authenticates as the App itself (10 minutes, RS256)."""
    issued = int(now if now is not None else time.time()) - JWT_BACKDATE
    claims = {"iat": issued, "exp": issued + JWT_LIFETIME, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm="RS256")


class AppJWT:
    """The App's JWT, re-signed only when the cached one is close to expiry."""

    def __init__(self, app_id: int | str, private_key: str, clock: Callable[[], float] = time.time) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._clock = clock
        self._jwt: str | None = None
        self._expires = 0.0

    def __repr__(self) -> str:
        return f"AppJWT(app_id={self._app_id!r})"

    def get(self) -> str:
        now = self._clock()
        if self._jwt is None or now >= self._expires - JWT_REUSE_MARGIN:
            self._jwt = make_app_jwt(self._app_id, self._private_key, now)
            self._expires = int(now) - JWT_BACKDATE + JWT_LIFETIME
        return self._jwt


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: float  # unix seconds

    def __repr__(self) -> str:  # never print the credential
        return f"InstallationToken(expires_at={self.expires_at})"


def parse_expiry(value: str) -> float:
    """GitHub's `expires_at` (ISO 8601, `Z` suffix) as unix seconds."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


TokenRequest = Callable[[int], Awaitable[InstallationToken]]


class InstallationTokens:
    """Installation tokens, one request per installation while a cached token is valid."""

    def __init__(
        self,
        request_token: TokenRequest,
        clock: Callable[[], float] = time.time,
        margin: float = TOKEN_REFRESH_MARGIN,
        maxsize: int = 10_000,
    ) -> None:
        self._request_token = request_token
        self._clock = clock
        self._margin = margin
        self._cache: TLRUCache[int, InstallationToken] = TLRUCache(
            maxsize=maxsize, ttu=self._time_to_use, timer=clock
        )
        self._locks: dict[int, asyncio.Lock] = {}

    def _time_to_use(self, _key: int, value: InstallationToken, now: float) -> float:
        return value.expires_at - self._margin

    async def get(self, installation_id: int) -> str:
        cached = self._cache.get(installation_id)
        if cached is not None:
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(installation_id)
            if cached is not None:
                return cached.token
            fresh = await self._request_token(installation_id)
            if fresh.expires_at - self._margin > self._clock():
                self._cache[installation_id] = fresh
            return fresh.token

    def invalidate(self, installation_id: int, token: str | None = None) -> None:
        """Forget a token GitHub refused (only that token, when given: a newer one stays)."""
        cached = self._cache.get(installation_id)
        if cached is not None and (token is None or cached.token == token):
            self._cache.pop(installation_id, None)
