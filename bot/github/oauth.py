"""A GitHub App's web sign-in (OAuth web application flow) and what a user's token may read.

GitHub's documentation, "Generating a user access token for a GitHub App" (web application flow):
1. the browser is sent to `{GITHUB_URL}/login/oauth/authorize?client_id=…&redirect_uri=…&state=…`;
2. GitHub sends it back to `redirect_uri?code=…&state=…` (the `state` must be the one sent: CSRF);
3. `POST {GITHUB_URL}/login/oauth/access_token` with `client_id`, `client_secret`, `code` (and the same
   `redirect_uri`) answers, with `Accept: application/json`, `{access_token, expires_in, refresh_token, …}`, or
   an `error` (`bad_verification_code`, `incorrect_client_credentials`, `redirect_uri_mismatch`) with status 200.
   A GitHub App's user access token expires after 8 hours (`expires_in`) unless the App opted out.

With that token (REST, `Authorization: token …`): `GET /user` names the user; `GET /user/installations` lists
this App's installations the user has explicit permission to access, and
`GET /user/installations/{installation_id}/repositories` the repositories of one the user can access, each with
the user's `permissions` (`pull` is read access) — GitHub's documented way for a user-to-server token to find
which repositories its user may read. The token is registered with the log redaction as soon as it arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from gidgethub import aiohttp as gh_aiohttp

from bot.runtime.redaction import register_secret

USER_AGENT = "codegen-bot"
#: when GitHub does not say (an App that opted out of expiring tokens), the session decides alone
NO_EXPIRY = 365 * 86400.0


class OAuthError(Exception):
    """GitHub refused the code exchange; the message is GitHub's `error_description` (or `error`)."""


@dataclass(frozen=True)
class UserToken:
    token: str
    expires_at: float


@dataclass(frozen=True)
class AccessibleRepo:
    """A repository GitHub lists for the user's token, with the user's own access to it."""

    full_name: str
    private: bool
    #: the user may read it (`permissions.pull`)
    read: bool


def authorize_url(github_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{github_url.rstrip('/')}/login/oauth/authorize?{query}"


async def exchange_code(
    session: aiohttp.ClientSession, github_url: str, *, client_id: str, client_secret: str, code: str,
    redirect_uri: str,
) -> UserToken:
    register_secret(code)
    form = {"client_id": client_id, "client_secret": client_secret, "code": code, "redirect_uri": redirect_uri}
    async with session.post(f"{github_url.rstrip('/')}/login/oauth/access_token", data=form,
                            headers={"Accept": "application/json", "User-Agent": USER_AGENT}) as resp:
        if resp.status != 200:
            raise OAuthError(f"GitHub answered {resp.status} to the code exchange")
        body = await resp.json(content_type=None)
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        error = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise OAuthError(str(error or "GitHub gave no access token"))
    register_secret(str(token))
    lifetime = float(body.get("expires_in") or NO_EXPIRY)
    return UserToken(str(token), time.time() + lifetime)


def user_client(session: aiohttp.ClientSession, api_url: str, token: str) -> gh_aiohttp.GitHubAPI:
    return gh_aiohttp.GitHubAPI(session, USER_AGENT, oauth_token=token, base_url=api_url.rstrip("/"))


async def authenticated_login(session: aiohttp.ClientSession, api_url: str, token: str) -> str:
    user = await user_client(session, api_url, token).getitem("/user")
    return str(user["login"])


async def accessible_repos(session: aiohttp.ClientSession, api_url: str, token: str) -> list[AccessibleRepo]:
    """Every repository of this App's installations that the user's token lists, with the user's access."""
    gh = user_client(session, api_url, token)
    repos: list[AccessibleRepo] = []
    async for inst in gh.getiter("/user/installations{?per_page}", {"per_page": 100}, iterable_key="installations"):
        async for repo in gh.getiter("/user/installations/{installation_id}/repositories{?per_page}",
                                     {"installation_id": str(inst["id"]), "per_page": 100},
                                     iterable_key="repositories"):
            permissions = repo.get("permissions") or {}
            repos.append(AccessibleRepo(str(repo["full_name"]), bool(repo.get("private")),
                                        bool(permissions.get("pull"))))
    return repos
