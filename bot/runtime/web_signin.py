"""Sign-in with GitHub for the bot's web pages: the OAuth web flow (bot/github/oauth.py) on aiohttp.

- `start`: a page asked for without a session redirects to GitHub's `/login/oauth/authorize` with a random
  `state`; the same state (and the page to come back to) goes in a signed `codegen_status_state` cookie (10
  minutes, HttpOnly, SameSite=Lax so that it comes back on GitHub's top-level redirect).
- `callback` (`{prefix}/callback`): the `state` of the query must equal the cookie's, whose signature and expiry
  hold (compared in constant time): otherwise 400 and nothing is exchanged. Then the code is exchanged for the
  user's token, `GET /user` names the user, and a session starts: the `codegen_status` cookie carries only its
  signed id (HttpOnly, SameSite=Lax, `Secure` over https, path `{prefix}`), and ends with the session:
  STATUS_SESSION_HOURS, never past the token's own expiry.
- `csrf_token(session)`: what a form of a signed-in page carries; `check_csrf` compares it in constant time.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.github.oauth import OAuthError, authenticated_login, authorize_url, exchange_code
from bot.runtime.web_session import Sessions, Signer, WebSession

log = logging.getLogger(__name__)

SESSION_COOKIE = "codegen_status"
STATE_COOKIE = "codegen_status_state"
STATE_TTL = 600.0


@dataclass(frozen=True)
class OAuthApp:
    """The App's OAuth client and where GitHub is."""

    client_id: str
    client_secret: str = ""
    github_url: str = "https://github.com"
    api_url: str = "https://api.github.com"


def redirect(location: str) -> web.Response:
    """A 302 answer that can carry cookies (aiohttp wants HTTP exceptions raised, not returned)."""
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def safe_next(path: str | None, prefix: str) -> str:
    """Only a path of these pages is a place to come back to (no other host, no scheme-relative `//`)."""
    if not path or not path.startswith(prefix) or path.startswith("//") or "\\" in path:
        return prefix
    return path


class GitHubSignIn:
    def __init__(
        self, app: OAuthApp, *, http: aiohttp.ClientSession, signer: Signer, sessions: Sessions,
        session_ttl: float, public_url: str = "", prefix: str = "/status",
    ) -> None:
        self.app = app
        self.http = http
        self.signer = signer
        self.sessions = sessions
        self.session_ttl = session_ttl
        self.public_url = public_url.rstrip("/")
        self.prefix = prefix

    def redirect_uri(self, request: web.Request) -> str:
        base = self.public_url or f"{request.scheme}://{request.host}"
        return f"{base}{self.prefix}/callback"

    def _secure(self, request: web.Request) -> bool:
        return request.secure or self.public_url.startswith("https://")

    def current(self, request: web.Request) -> WebSession | None:
        session_id = self.signer.verify("session", request.cookies.get(SESSION_COOKIE))
        return self.sessions.get(session_id) if session_id else None

    def start(self, request: web.Request, next_path: str) -> web.StreamResponse:
        """Off to GitHub's sign-in, to come back to `next_path`."""
        state = secrets.token_urlsafe(24)
        back = base64.urlsafe_b64encode(safe_next(next_path, self.prefix).encode()).decode()
        url = authorize_url(self.app.github_url, self.app.client_id, self.redirect_uri(request), state)
        response = redirect(url)
        response.set_cookie(STATE_COOKIE, self.signer.sign("state", f"{state}~{back}", STATE_TTL),
                            max_age=int(STATE_TTL), httponly=True, samesite="Lax", secure=self._secure(request),
                            path=self.prefix)
        return response

    def _state_target(self, request: web.Request) -> str:
        """Where to go after a callback whose state is the cookie's; HTTPBadRequest otherwise."""
        signed = self.signer.verify("state", request.cookies.get(STATE_COOKIE))
        state, _, back = (signed or "").partition("~")
        if not signed or not self.signer.same(state, request.query.get("state")):
            raise web.HTTPBadRequest(text="unknown or expired sign-in state: start again from the status page")
        try:
            return safe_next(base64.urlsafe_b64decode(back.encode()).decode(), self.prefix)
        except ValueError:
            return self.prefix

    async def callback(self, request: web.Request) -> web.StreamResponse:
        target = self._state_target(request)
        code = request.query.get("code", "")
        if not code:
            raise web.HTTPBadRequest(text=f"GitHub sign-in did not complete: {request.query.get('error', 'no code')}")
        try:
            token = await exchange_code(self.http, self.app.github_url, client_id=self.app.client_id,
                                        client_secret=self.app.client_secret, code=code,
                                        redirect_uri=self.redirect_uri(request))
            login = await authenticated_login(self.http, self.app.api_url, token.token)
        except (OAuthError, aiohttp.ClientError) as exc:
            log.warning("GitHub sign-in failed: %s", exc)
            raise web.HTTPBadGateway(text="GitHub sign-in failed; try again") from None
        ends = min(token.expires_at, self.signer.clock() + self.session_ttl)
        session = self.sessions.create(login, token.token, ends)
        log.info("signed in to the status page", extra={"user": login})
        response = redirect(target)
        ttl = max(1, int(ends - self.signer.clock()))
        response.set_cookie(SESSION_COOKIE, self.signer.sign("session", session.id, ttl), max_age=ttl,
                            httponly=True, samesite="Lax", secure=self._secure(request), path=self.prefix)
        response.del_cookie(STATE_COOKIE, path=self.prefix)
        return response

    def sign_out(self, request: web.Request, session: WebSession) -> web.StreamResponse:
        self.sessions.drop(session.id)
        response = redirect(f"{self.prefix}/signed-out")
        response.del_cookie(SESSION_COOKIE, path=self.prefix)
        return response

    def forget(self, session: WebSession) -> None:
        """The session's token no longer works (GitHub answered 401): sign the user out."""
        self.sessions.drop(session.id)

    def csrf_token(self, session: WebSession) -> str:
        return self.signer.mac("csrf", session.id)

    def check_csrf(self, session: WebSession, given: str | None) -> bool:
        return self.signer.same(self.csrf_token(session), given)
