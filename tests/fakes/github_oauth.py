"""The fake GitHub's sign-in for GitHub Apps (OAuth web application flow) and its user access tokens.

GitHub's documentation, "Generating a user access token for a GitHub App" and "Authorizing OAuth apps" (web
application flow), made checkable:

- `GET /login/oauth/authorize?client_id&redirect_uri&state` (github.com, not the API; no contract check: the
  REST description does not describe it): an unknown `client_id` is a 404 page; a `redirect_uri` that is not
  one of the App's callback URLs is refused (400, "The redirect_uri is not associated with this application");
  without a user signed in to the browser (`sign_in_browser`) the login page (200) is shown; otherwise, like
  GitHub once the user has authorized the App, a 302 back to `redirect_uri?code=…&state=…` at once.
- `POST /login/oauth/access_token` (form, JSON or query parameters) with `client_id`, `client_secret`, `code` and
  optionally `redirect_uri`: the code works once and for 10 minutes ("codes expire after 10 minutes"), for the
  App it was issued to, with the same `redirect_uri`. Errors are answered with status 200 and
  `error`/`error_description`/`error_uri` (`incorrect_client_credentials`, `bad_verification_code`,
  `redirect_uri_mismatch`), like GitHub. The token answer is JSON with `Accept: application/json`, else
  form-encoded: `access_token` (`ghu_…`), `expires_in` 28800 (8 hours), `refresh_token` (`ghr_…`),
  `refresh_token_expires_in`, `scope` "", `token_type` "bearer".
- With a user access token (REST, checked against rest-subset.json like every operation): `GET /user`;
  `GET /user/installations` (the App's installations the user has explicit permission to access);
  `GET /user/installations/{installation_id}/repositories` (the installation's repositories the user can
  access, each with the user's `permissions`; 404 for an installation the user cannot access or of another
  App). "Explicit permission" is modelled as: the user owns the repository (its owner is the login) or is a
  collaborator with a role other than "none" (`set_permission`); being public is not enough (GitHub lists
  "repositories they own, repositories where they are a collaborator, and repositories that they can access
  through an organization membership"). Another credential on these operations: 401 "Bad credentials" (an
  installation token: 403 "Resource not accessible by integration").
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from tests.fakes.github_auth import bearer
from tests.fakes.github_bodies_base import node_id, user_id
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, not_found
from tests.fakes.github_state import App, Installation, Repo, World

__all__ = ["USER_OPERATIONS", "OAuthOperations", "OAuthSetup", "authenticate_user", "oauth_web"]

USER_TOKEN_TTL = 8 * 3600.0
REFRESH_TTL = 184 * 86400.0
CODE_TTL = 600.0
USER_OPERATIONS = frozenset({
    "users/get-authenticated",
    "apps/list-installations-for-authenticated-user",
    "apps/list-installation-repos-for-authenticated-user",
})
ROLE_PERMISSIONS = {
    "admin": ("admin", "maintain", "push", "triage", "pull"),
    "maintain": ("maintain", "push", "triage", "pull"),
    "write": ("push", "triage", "pull"),
    "triage": ("triage", "pull"),
    "read": ("pull",),
}
ERRORS = {
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "bad_verification_code": "The code passed is incorrect or expired.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this application.",
}


@dataclass
class Grant:
    login: str
    app_id: int
    redirect_uri: str
    expires_at: float


@dataclass
class UserToken:
    token: str
    login: str
    app_id: int
    expires_at: float


@dataclass
class OAuthState:
    #: who the browser is signed in to GitHub as (None: GitHub's login page is shown)
    browser_user: str | None = None
    #: the App's callback URLs, by app id
    callback_urls: dict[int, list[str]] = field(default_factory=dict)
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, UserToken] = field(default_factory=dict)


def oauth_state(world: World) -> OAuthState:
    if world.oauth is None:
        world.oauth = OAuthState()
    state: OAuthState = world.oauth
    return state


def _random(prefix: str, size: int = 36) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(size))


def role_of(repo: Repo, login: str) -> str | None:
    """The user's explicit role on the repository (owner: admin), or None."""
    if repo.owner.lower() == login.lower():
        return "admin"
    role = next((r for user, r in repo.collaborators.items() if user.lower() == login.lower()), None)
    return role if role in ROLE_PERMISSIONS else None


def authenticate_user(world: World, headers: Mapping[str, str]) -> UserToken:
    """The user access token of the request; HttpError 401 (403 for an installation token) otherwise."""
    found = bearer(headers)
    if found is None or found[0] not in ("bearer", "token"):
        raise HttpError(401, "Requires authentication")
    if found[1] in world.tokens:
        raise HttpError(403, "Resource not accessible by integration")
    token = oauth_state(world).tokens.get(found[1])
    if token is None or token.expires_at <= world.clock():
        raise HttpError(401, "Bad credentials")
    return token


class OAuthOperations(Operations):
    """REST operations of a user access token (the caller is checked again here: github_access lets them by)."""

    def handlers(self) -> dict[str, Handler]:
        return {
            "users/get-authenticated": self.get_user,
            "apps/list-installations-for-authenticated-user": self.installations,
            "apps/list-installation-repos-for-authenticated-user": self.repositories,
        }

    def _readable(self, inst: Installation, login: str) -> list[tuple[Repo, str]]:
        repos = [self.world.repos[name] for name in inst.repos if name in self.world.repos]
        return [(repo, role) for repo in repos if (role := role_of(repo, login)) is not None]

    async def get_user(self, call: Call) -> Reply:
        token = authenticate_user(self.world, call.headers)
        body = self.bodies.example("/user", "get", "200", "response-with-public-and-private-profile-information")
        ident = user_id(token.login)
        # the description's oneOf is told apart by `user_view_type` (its examples predate it): a user's own view of
        # themselves is "private" (https://docs.github.com/en/rest/users/users#get-the-authenticated-user)
        body.update(login=token.login, id=ident, node_id=node_id("User", ident), url=f"{self.bodies.api}/users/"
                    f"{token.login}", html_url=f"https://github.com/{token.login}", name=token.login, email=None,
                    user_view_type="private")
        return Reply(200, body)

    async def installations(self, call: Call) -> Reply:
        token = authenticate_user(self.world, call.headers)
        app = self.world.apps[token.app_id]
        mine = [i for i in self.world.installations.values()
                if i.app_id == app.id and not i.suspended and self._readable(i, token.login)]
        page, headers = self._page(call, mine)
        body = {"total_count": len(mine), "installations": [self.bodies.installation(i, app) for i in page]}
        return Reply(200, body, headers=headers)

    async def repositories(self, call: Call) -> Reply:
        token = authenticate_user(self.world, call.headers)
        inst = self.world.installations.get(int(call.params["installation_id"]))
        readable = self._readable(inst, token.login) if inst is not None and inst.app_id == token.app_id else []
        if not readable:
            raise not_found()
        page, headers = self._page(call, readable)
        body = {"total_count": len(readable), "repositories": [self._repository(r, role) for r, role in page]}
        return Reply(200, body, headers=headers)

    def _repository(self, repo: Repo, role: str) -> dict[str, Any]:
        body = self.bodies.example("/user/installations/{installation_id}/repositories", "get", "200")
        body = body["repositories"][0]
        body.update(self.bodies._repo_fields(repo), owner=self.bodies.user(repo.owner, repo.owner_type))
        body["permissions"] = {p: p in ROLE_PERMISSIONS[role] for p in ("admin", "maintain", "push", "triage", "pull")}
        body.pop("template_repository", None)
        return body


def _page(title: str, text: str, status: int) -> web.Response:
    html = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p>"
    return web.Response(status=status, text=html, content_type="text/html")


def authorize(world: World, query: Mapping[str, str]) -> web.Response:
    state = oauth_state(world)
    app = next((a for a in world.apps.values() if a.client_id == query.get("client_id")), None)
    if app is None:
        return _page("Not Found", "No such application.", 404)
    redirect_uri = query.get("redirect_uri") or next(iter(state.callback_urls.get(app.id, [])), "")
    if redirect_uri not in state.callback_urls.get(app.id, []):
        return _page("Redirect URI mismatch", "The redirect_uri is not associated with this application.", 400)
    if state.browser_user is None:
        return _page("Sign in to GitHub", "to continue to " + app.name, 200)
    code = _random("", 20)
    state.codes[code] = Grant(state.browser_user, app.id, redirect_uri, world.clock() + CODE_TTL)
    back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
    separator = "&" if "?" in redirect_uri else "?"
    return web.Response(status=302, headers={"Location": f"{redirect_uri}{separator}{urlencode(back)}"})


def _token_answer(world: World, form: Mapping[str, str]) -> dict[str, Any]:
    state = oauth_state(world)
    app = next((a for a in world.apps.values() if a.client_id == form.get("client_id")), None)
    if app is None or not secrets.compare_digest(app.client_secret, form.get("client_secret", "")):
        return _error("incorrect_client_credentials")
    grant = state.codes.get(form.get("code", ""))
    if grant is None or grant.app_id != app.id or grant.expires_at <= world.clock():
        return _error("bad_verification_code")
    if form.get("redirect_uri") and form["redirect_uri"] != grant.redirect_uri:
        return _error("redirect_uri_mismatch")
    del state.codes[form["code"]]
    token = mint_user_token(world, app, grant.login)
    return {"access_token": token.token, "expires_in": int(USER_TOKEN_TTL), "refresh_token": _random("ghr_", 76),
            "refresh_token_expires_in": int(REFRESH_TTL), "scope": "", "token_type": "bearer"}


def _error(code: str) -> dict[str, Any]:
    uri = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"
    return {"error": code, "error_description": ERRORS[code], "error_uri": f"{uri}/#{code.replace('_', '-')}"}


def mint_user_token(world: World, app: App, login: str) -> UserToken:
    token = UserToken(_random("ghu_"), login, app.id, world.clock() + USER_TOKEN_TTL)
    oauth_state(world).tokens[token.token] = token
    return token


async def oauth_web(world: World, method: str, path: str, query: Mapping[str, str], raw: bytes,
                    headers: Mapping[str, str]) -> tuple[str, web.Response]:
    """(operation name, answer) of a request to github.com's `/login/oauth/…`."""
    if path == "/login/oauth/authorize" and method == "GET":
        return "oauth/authorize", authorize(world, query)
    if path != "/login/oauth/access_token" or method != "POST":
        return "oauth/unknown", _page("Not Found", path, 404)
    kind = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    form = dict(query)
    if raw and "json" in kind:
        form.update({k: str(v) for k, v in json.loads(raw).items()})
    elif raw:
        form.update(parse_qsl(raw.decode(), keep_blank_values=True))
    answer = _token_answer(world, form)
    accept = next((v for k, v in headers.items() if k.lower() == "accept"), "")
    if "application/json" in accept:
        return "oauth/access_token", web.json_response(answer)
    return "oauth/access_token", web.Response(text=urlencode(answer), content_type="application/x-www-form-urlencoded")


class OAuthSetup:
    """FakeGitHub's setup of GitHub sign-in (a base of FakeGitHub); needs `world` and `app`."""

    world: World
    app: App

    def sign_in_browser(self, login: str | None) -> None:
        """The browser is signed in to GitHub as `login` (None: signed out); it has authorized the App before,
        so `/login/oauth/authorize` sends it straight back with a code."""
        oauth_state(self.world).browser_user = login

    def add_callback_url(self, url: str, *, app_id: int | None = None) -> None:
        """A callback URL of the App (where `/login/oauth/authorize` may send the browser back)."""
        oauth_state(self.world).callback_urls.setdefault(app_id or self.app.id, []).append(url)

    def user_token(self, login: str, *, app_id: int | None = None) -> str:
        """A user access token of `login` for the App, without the web flow."""
        return mint_user_token(self.world, self.world.apps[app_id or self.app.id], login).token

    def expire_user_tokens(self) -> None:
        now = self.world.clock()
        for token in oauth_state(self.world).tokens.values():
            token.expires_at = min(token.expires_at, now - 1)

    def user_token_issued(self, login: str) -> bool:
        return any(t.login == login for t in oauth_state(self.world).tokens.values())

