"""Signed cookies and signed-in sessions for the bot's web pages (the status page, `/status`).

- `Signer`: a value with its expiry and an HMAC-SHA256 over both and a purpose (`value.expires.mac`), checked in
  constant time; a value signed for one purpose (the OAuth state) is refused for another (the session).
- `signing_key`: STATUS_SESSION_SECRET, else a key derived from the webhook secret (a configured App needs
  nothing more), never the webhook secret itself.
- `Sessions`: in this process's memory, a random id → `WebSession` (the GitHub login, the user's token, when it
  ends, a small per-session cache). The browser's cookie carries only the signed id: the token never leaves
  the process. A restart signs everyone out; at most `max_sessions` are kept (the oldest go first).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def signing_key(webhook_secret: str | None, explicit: str | None) -> bytes:
    """The key of the status page's cookies and CSRF tokens."""
    if explicit:
        return hashlib.sha256(b"codegen-bot status sessions\0" + explicit.encode()).digest()
    base = (webhook_secret or secrets.token_hex(32)).encode()  # unconfigured: a key for this process only
    return hmac.new(base, b"codegen-bot status sessions", hashlib.sha256).digest()


class Signer:
    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self.clock = clock

    def mac(self, purpose: str, value: str) -> str:
        """A hex HMAC of `value` for `purpose` (e.g. a session's CSRF token)."""
        return hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()

    def sign(self, purpose: str, value: str, ttl: float) -> str:
        expires = int(self.clock() + ttl)
        return f"{value}.{expires}.{self.mac(purpose, f'{value}.{expires}')}"

    def verify(self, purpose: str, signed: str | None) -> str | None:
        """The value, when `signed` was made by `sign` for this purpose and has not expired; else None."""
        value, expires, mac = (signed or "").rsplit(".", 2) if (signed or "").count(".") >= 2 else ("", "", "")
        if not mac or not expires.isdigit() or int(expires) < self.clock():
            return None
        return value if hmac.compare_digest(mac, self.mac(purpose, f"{value}.{expires}")) else None

    def same(self, expected: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


@dataclass
class WebSession:
    id: str
    login: str
    #: the user's GitHub token (user-to-server): only ever sent to GitHub, never logged or shown
    token: str = field(repr=False)
    expires_at: float
    #: answers looked up for this user, each with when it was fetched (see `cached`)
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict, repr=False)

    def cached(self, key: str, ttl: float, now: float) -> Any:
        hit = self.cache.get(key)
        return hit[1] if hit is not None and now - hit[0] < ttl else None


class Sessions:
    def __init__(self, *, max_sessions: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self.max_sessions = max_sessions
        self.clock = clock

    def create(self, login: str, token: str, expires_at: float) -> WebSession:
        session = WebSession(secrets.token_urlsafe(32), login, token, expires_at)
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        session = self._sessions.get(session_id or "")
        if session is not None and session.expires_at <= self.clock():
            self.drop(session.id)
            return None
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
