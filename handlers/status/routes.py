"""The status page's routes (the feature's triggers): `ROUTES` is declared to the server when it is made
(entrypoints/app.py), `StatusPages.handlers()` answers them once the App is configured.

    GET  /status                                   your repositories, recent validations, held fork PRs
    GET  /status/callback                          GitHub's sign-in comes back here (bot/runtime/web_signin.py)
    POST /status/sign-out                          (CSRF token)      GET /status/signed-out
    GET  /status/repos/{owner}/{repo}              validations, agent runs, merge queue/train, held fork PRs
    GET  /status/repos/{owner}/{repo}/validations/{id}   a validation's stages, their logs and artifacts
    GET  /status/operator                          operators: failed jobs and deliveries (Replay), repairs,
    POST /status/operator/jobs/{id}/replay           recent deliveries; on ADMIN_HOST:ADMIN_PORT instead when
    POST /status/operator/deliveries/{id}/replay     ADMIN_PORT is set (no sign-in there: the address is trusted)

Without a session a page redirects to GitHub's sign-in (a POST answers 403). A repository the user cannot read,
like one that does not exist, answers the same 404; operator pages answer 404 to whoever is not an operator.
Every POST carries a CSRF token: on the public address an HMAC of the session, on the admin address an HMAC of
a random `codegen_admin_csrf` cookie (SameSite=Strict) — a page of another site can make the operator's browser
post, but cannot read the token.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from gidgethub import BadRequest

from bot.runtime.server import ADMIN_ADDRESS, PageHandler, PageRoute
from bot.runtime.web_session import Signer, WebSession
from bot.runtime.web_signin import GitHubSignIn, redirect
from handlers.status.access import StatusAccess
from handlers.status.gather import OperatorReader, StatusReader
from handlers.status.texts import not_found, render
from handlers.status.visibility import canonical

OPERATOR = "/status/operator"
ADMIN_CSRF_COOKIE = "codegen_admin_csrf"
ROUTES = (
    PageRoute("GET", "/status", "status.index"),
    PageRoute("GET", "/status/callback", "status.callback"),
    PageRoute("POST", "/status/sign-out", "status.sign_out"),
    PageRoute("GET", "/status/signed-out", "status.signed_out"),
    PageRoute("GET", "/status/repos/{owner}/{repo}", "status.repo"),
    PageRoute("GET", "/status/repos/{owner}/{repo}/validations/{validation_id}", "status.validation"),
    PageRoute("GET", OPERATOR, "status.operator", operator=True),
    PageRoute("POST", OPERATOR + "/jobs/{job_id}/replay", "status.replay_job", operator=True),
    PageRoute("POST", OPERATOR + "/deliveries/{delivery_id}/replay", "status.replay_delivery", operator=True),
)
_ID = re.compile(r"[A-Za-z0-9-]{1,80}")
MESSAGES = {"job": "Job {} queued again.", "delivery": "Delivery {} queued again.",
            "stale": "{} was not replayed: it is no longer failed, or newer work holds its place."}


class Answer(Exception):
    """Stop here and send `response` (a redirect to sign in, a 404)."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__()
        self.response = response


class StatusPages:
    def __init__(
        self, *, signin: GitHubSignIn | None, access: StatusAccess, reader: StatusReader, ops: OperatorReader,
        signer: Signer, admin_separate: bool,
    ) -> None:
        self.signin = signin
        self.access = access
        self.reader = reader
        self.ops = ops
        self.signer = signer
        #: ADMIN_PORT is set: operator pages live on the admin address only
        self.admin_separate = admin_separate

    def handlers(self) -> dict[str, PageHandler]:
        pages: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
            "status.index": self.index, "status.callback": self.callback, "status.sign_out": self.sign_out,
            "status.signed_out": self.signed_out, "status.repo": self.repo, "status.validation": self.validation,
            "status.operator": self.operator, "status.replay_job": self.replay_job,
            "status.replay_delivery": self.replay_delivery,
        }
        return {name: _answering(handler) for name, handler in pages.items()}

    # --- who is asking ----------------------------------------------------------------------------
    def _signin(self) -> GitHubSignIn:
        if self.signin is None:
            raise Answer(render("message.html", 503, user=None, csrf="", operator_link=False,
                                heading="Sign-in is not configured",
                                text="Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (the App's OAuth client, written"
                                     " by the manifest flow) and restart the bot."))
        return self.signin

    async def _session(self, request: web.Request) -> tuple[WebSession, tuple[str, ...]]:
        """The signed-in user and the repositories they may see; else off to GitHub's sign-in (403 for a POST)."""
        signin = self._signin()
        session = signin.current(request)
        if session is not None:
            try:
                return session, await self.access.visible(session)
            except BadRequest as exc:
                if exc.status_code != 401:
                    raise
                signin.forget(session)  # the token expired or was revoked
        if request.method != "GET":
            raise Answer(web.Response(status=403, text="sign in first"))
        raise Answer(signin.start(request, request.path_qs))

    async def _context(self, session: WebSession) -> dict[str, Any]:
        operator = not self.admin_separate and await self.access.operator(session)
        return {"user": session.login, "csrf": self._signin().csrf_token(session), "operator_link": operator}

    # --- pages ------------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        session, visible = await self._session(request)
        return render("index.html", overview=await self.reader.overview(visible), **await self._context(session))

    async def callback(self, request: web.Request) -> web.StreamResponse:
        return await self._signin().callback(request)

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        session, _ = await self._session(request)
        form = await request.post()
        if not self._signin().check_csrf(session, str(form.get("csrf", ""))):
            return web.Response(status=403, text="invalid CSRF token")
        return self._signin().sign_out(request, session)

    async def signed_out(self, request: web.Request) -> web.StreamResponse:
        return render("signed_out.html", user=None, csrf="", operator_link=False)

    async def repo(self, request: web.Request) -> web.StreamResponse:
        session, visible = await self._session(request)
        repo = canonical(f"{request.match_info['owner']}/{request.match_info['repo']}", visible)
        if repo is None:
            return not_found()
        status = await self.reader.repo(repo, visible)
        return render("repo.html", status=status, **await self._context(session))

    async def validation(self, request: web.Request) -> web.StreamResponse:
        session, visible = await self._session(request)
        repo = canonical(f"{request.match_info['owner']}/{request.match_info['repo']}", visible)
        view = await self.reader.validation(repo, request.match_info["validation_id"]) if repo else None
        if view is None:
            return not_found()
        artifacts = await self.reader.artifact_links(view.id)
        return render("validation.html", v=view, artifacts=artifacts, **await self._context(session))

    # --- operators --------------------------------------------------------------------------------
    async def _operator_csrf(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        """The page's context and the CSRF token a form must carry; Answer(404) for a non-operator. On the admin
        address the token is bound to a cookie (the second value: a new one to set, or None)."""
        if request.get(ADMIN_ADDRESS):
            nonce = request.cookies.get(ADMIN_CSRF_COOKIE)
            fresh = None if nonce else secrets.token_urlsafe(24)
            token = self.signer.mac("admin-csrf", nonce or fresh or "")
            return {"user": None, "csrf": token, "operator_link": False, "admin": True}, fresh
        session, _ = await self._session(request)
        if not await self.access.operator(session):
            raise Answer(not_found())
        return {**await self._context(session), "admin": False}, None

    async def operator(self, request: web.Request) -> web.StreamResponse:
        context, fresh = await self._operator_csrf(request)
        kind, _, subject = request.query.get("done", "").partition(":")
        message = MESSAGES[kind].format(subject) if kind in MESSAGES and _ID.fullmatch(subject) else None
        response = render("operator.html", ops=await self.ops.page(), base=OPERATOR, message=message, **context)
        if fresh is not None:
            response.set_cookie(ADMIN_CSRF_COOKIE, fresh, httponly=True, samesite="Strict", path=OPERATOR)
        return response

    async def _checked(self, request: web.Request) -> None:
        context, _ = await self._operator_csrf(request)
        form = await request.post()
        if not self.signer.same(context["csrf"], str(form.get("csrf", ""))):
            raise Answer(web.Response(status=403, text="invalid CSRF token"))

    async def replay_job(self, request: web.Request) -> web.StreamResponse:
        await self._checked(request)
        job = request.match_info["job_id"]
        done = job.isdigit() and await self.ops.replay_job(int(job))
        return redirect(f"{OPERATOR}?done={'job' if done else 'stale'}:{job}")

    async def replay_delivery(self, request: web.Request) -> web.StreamResponse:
        await self._checked(request)
        delivery = request.match_info["delivery_id"]
        done = await self.ops.replay_delivery(delivery)
        return redirect(f"{OPERATOR}?done={'delivery' if done else 'stale'}:{delivery}")


def _answering(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> PageHandler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Answer as answer:
            return answer.response

    return handle
