"""Register the App on GitHub through the manifest flow, as Probot does.

`GET /` (while the App has no credentials) renders a page whose form POSTs the manifest (`app.yml`, with
this bot's URLs filled in) to `{GITHUB_URL}/settings/apps/new` (or an organisation's
`/organizations/{org}/settings/apps/new`). GitHub creates the App and sends the browser back to
`GET /setup/callback?code=…&state=…`; the callback checks `state`, exchanges the code at
`POST /app-manifests/{code}/conversions`, and writes the App's id, private key and webhook secret to
`.env`. The server then reloads its settings and starts serving webhooks without a restart.

Who may register the App (a stranger who can reach the port must not be able to install their own App
and webhook secret):
- the setup page hands out a `state` only to a browser that presents the one-time setup token printed on
  the console at start-up (`/?setup_token=…`, compared in constant time);
- each `state` is bound to that browser (a random `codegen_setup` cookie, HttpOnly, SameSite=Lax so it
  comes back on GitHub's redirect) and expires after an hour; the callback compares both in constant time;
- once the App is configured the callback refuses (409), `GET /` hands out no state, every state is
  cleared and the token is spent.
"""

from __future__ import annotations

import hmac
import html
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

STATE_TTL = 3600.0
COOKIE = "codegen_setup"
TOKEN_PARAM = "setup_token"

#: .env keys written from the conversion's answer
ENV_KEYS = {
    "GITHUB_APP_ID": "id",
    "GITHUB_WEBHOOK_SECRET": "webhook_secret",
    "GITHUB_PRIVATE_KEY": "pem",
    "GITHUB_CLIENT_ID": "client_id",
    "GITHUB_CLIENT_SECRET": "client_secret",
}


def build_manifest(app_yml: Path, base_url: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(app_yml.read_text()) or {}
    manifest.setdefault("url", base_url)
    manifest["hook_attributes"] = {**manifest.get("hook_attributes", {}), "url": f"{base_url}/webhook"}
    manifest["redirect_url"] = f"{base_url}/setup/callback"
    # the status page's GitHub sign-in comes back here (docs/status-page.md); GitHub accepts up to 10
    manifest.setdefault("callback_urls", [f"{base_url}/status/callback"])
    return manifest


def render_setup_page(manifest: dict[str, Any], github_url: str, state: str, org: str | None) -> str:
    target = (
        f"{github_url}/organizations/{org}/settings/apps/new" if org else f"{github_url}/settings/apps/new"
    )
    manifest_json = html.escape(json.dumps(manifest), quote=True)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set up codegen-bot</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;line-height:1.5}}
button{{font-size:1.1rem;padding:.5rem 1rem}}code{{background:#eee;padding:0 .2rem}}</style></head>
<body>
<h1>Set up codegen-bot</h1>
<p>This bot has no GitHub App credentials yet. Register it as a GitHub App: GitHub shows you the App's
name, webhook and permissions (from <code>app.yml</code>) before anything is created, then sends you back
here and the credentials are saved to <code>.env</code>.</p>
<form action="{html.escape(target, quote=True)}?state={html.escape(state, quote=True)}" method="post">
<input type="hidden" name="manifest" value="{manifest_json}">
<button type="submit">Register the GitHub App{" for " + html.escape(org) if org else ""}</button>
</form>
<p>To register it for an organisation, add <code>&amp;org=NAME</code> to the setup link.</p>
<p>Webhooks will be sent to <code>{html.escape(manifest["hook_attributes"]["url"])}</code>.</p>
</body></html>"""


def render_done_page(app: dict[str, Any]) -> str:
    html_url = html.escape(str(app.get("html_url", "")), quote=True)
    name = html.escape(str(app.get("name") or app.get("slug") or "codegen-bot"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>codegen-bot is set up</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto">
<h1>{name} is registered</h1>
<p>The credentials were written to <code>.env</code> and the bot now accepts webhooks.</p>
<p>Next: <a href="{html_url}/installations/new">install the App on your repositories</a>.</p>
</body></html>"""


def write_env(path: Path, values: dict[str, str]) -> None:
    """Set `values` in the dotenv file at `path`, keeping its other lines; the file is private (0600)."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in values]
    for key, value in values.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        kept.append(f'{key}="{escaped}"')
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from its first byte
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(kept) + "\n")
    tmp.replace(path)


def render_locked_page() -> str:
    return """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set up codegen-bot</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto">
<h1>codegen-bot is not set up yet</h1>
<p>Open the setup link that <code>codegen-bot serve</code> printed on its console
(<code>/?setup_token=…</code>): only the person who started the bot may register its GitHub App.</p>
</body></html>"""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SetupFlow:
    """The two routes of the manifest flow; `on_configured` reloads the server once `.env` is written."""

    def __init__(
        self,
        *,
        app_yml: Path,
        env_path: Path,
        github_url: str,
        public_url: str,
        convert: Callable[[str], Awaitable[dict[str, Any]]],
        on_configured: Callable[[], Awaitable[None]],
        is_configured: Callable[[], bool],
    ) -> None:
        self.app_yml = app_yml
        self.env_path = env_path
        self.github_url = github_url
        self.public_url = public_url
        self.convert = convert
        self.on_configured = on_configured
        self.is_configured = is_configured
        #: the one-time setup token (printed on the console); None once spent
        self.token: str | None = secrets.token_urlsafe(24)
        #: state → (issued at, the browser it was issued to)
        self._states: dict[str, tuple[float, str]] = {}

    def _base_url(self, request: web.Request) -> str:
        return self.public_url or f"{request.scheme}://{request.host}"

    def setup_link(self, base_url: str) -> str | None:
        return f"{base_url.rstrip('/')}/?{TOKEN_PARAM}={self.token}" if self.token else None

    async def page(self, request: web.Request) -> web.Response:
        token = request.query.get(TOKEN_PARAM, "")
        if self.is_configured() or self.token is None or not _same(token, self.token):
            return web.Response(text=render_locked_page(), content_type="text/html", status=403)
        now = time.monotonic()
        self._states = {s: v for s, v in self._states.items() if now - v[0] < STATE_TTL}
        browser = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        state = secrets.token_urlsafe(24)
        self._states[state] = (now, browser)
        org = request.query.get("org") or None
        if not self.app_yml.is_file():
            return web.Response(status=503, text=f"The App manifest {self.app_yml} does not exist: set"
                                " APP_MANIFEST_PATH to this project's app.yml.")
        manifest = build_manifest(self.app_yml, self._base_url(request))
        response = web.Response(
            text=render_setup_page(manifest, self.github_url, state, org), content_type="text/html"
        )
        response.set_cookie(COOKIE, browser, max_age=int(STATE_TTL), httponly=True, samesite="Lax",
                            secure=request.secure, path="/setup/")
        return response

    def _check(self, request: web.Request) -> None:
        if self.is_configured():
            raise web.HTTPConflict(text="the GitHub App is already configured")
        code, state = request.query.get("code", ""), request.query.get("state", "")
        if not code:
            raise web.HTTPBadRequest(text="missing ?code from GitHub")
        issued = self._states.pop(state, None)
        browser = request.cookies.get(COOKIE, "")
        if issued is None or time.monotonic() - issued[0] > STATE_TTL or not _same(browser, issued[1]):
            raise web.HTTPBadRequest(text="unknown or expired state: start again from the setup link")

    async def callback(self, request: web.Request) -> web.Response:
        self._check(request)
        app = await self.convert(request.query["code"])
        values = {key: str(app[field]) for key, field in ENV_KEYS.items() if app.get(field) is not None}
        write_env(self.env_path, values)
        self._states.clear()
        self.token = None
        await self.on_configured()
        response = web.Response(text=render_done_page(app), content_type="text/html")
        response.del_cookie(COOKIE, path="/setup/")
        return response
