"""Only the app under test: every request to another origin is refused, and recorded.

The app's origin is `scheme://host:port` of the URL the app is reached at (`http://app:8000`); `ws:`/`wss:`
count as `http:`/`https:` (an app's own WebSocket is allowed). `data:`, `blob:` and `about:` URLs are not
requests to anyone and are left alone.

Layers (each stops a request the one before could miss):
1. Playwright: `context.route("**/*")` aborts (`blockedbyclient`) every request of the context to another
   origin — navigations, iframes, popups, subresources, fetch/XHR, beacons — and `service_workers="block"`
   keeps requests away from service workers, which routes would not see.
2. Chromium's own network stack (flags in validators/web_eval/container.py): everything but the app's
   host:port goes to a proxy that does not exist (loopback included, `<-loopback>`), and host names other
   than the app's do not resolve. This is what stops what Playwright's routes cannot see: the hops of an HTTP
   redirect (routes see only a redirect chain's first URL) and WebSocket handshakes.
3. The browser container's firewall: outbound TCP only to the app's address and port.
Every request to another origin is recorded, whichever layer stopped it (its `request` event fires either
way), as `blocked_requests` of the page or flow; a blocked request fails the page or flow like any failed
request.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

_DEFAULT_PORT = {"http": 80, "https": 443}
_SAME_AS = {"ws": "http", "wss": "https"}
_NOT_REQUESTS = {"data", "blob", "about", "javascript"}
MAX_BLOCKED = 50


class Recorder(Protocol):
    blocked_requests: list[str]


def origin_of(url: str) -> str | None:
    """`scheme://host:port` (default port filled in), or None for a URL without a host."""
    try:
        parts = urlsplit(url)
        scheme = _SAME_AS.get(parts.scheme.lower(), parts.scheme.lower())
        host = (parts.hostname or "").lower()
        port = parts.port or _DEFAULT_PORT.get(scheme)
    except ValueError:
        return None
    if not host:
        return None
    return f"{scheme}://{host}:{port}"


class OriginGuard:
    def __init__(self, app_url: str) -> None:
        origin = origin_of(app_url)
        if origin is None:
            raise ValueError(f"not an app URL: {app_url!r}")
        self.origin = origin

    def foreign(self, url: str) -> bool:
        """Whether `url` is a request to someone other than the app."""
        scheme = url.split(":", 1)[0].lower()
        if scheme in _NOT_REQUESTS:
            return False
        return origin_of(url) != self.origin

    def note(self, result: Recorder, url: str, how: str = "") -> None:
        line = f"{url[:300]}{f' ({how})' if how else ''}"
        if len(result.blocked_requests) < MAX_BLOCKED and line not in result.blocked_requests:
            result.blocked_requests.append(line)

    def shows_app(self, page: Any) -> bool:
        """Whether the page's main frame is at the app (a screenshot may be taken)."""
        return not self.foreign(page.url) and page.url.split(":", 1)[0].lower() in ("http", "https")

    async def install(self, context: Any, result: Recorder) -> None:
        """Route every request of `context` through the origin check; record the others."""

        async def route(route: Any) -> None:
            if self.foreign(route.request.url):
                await route.abort("blockedbyclient")
            else:
                await route.continue_()

        def on_request(request: Any) -> None:
            if self.foreign(request.url):
                source = request.redirected_from
                self.note(result, request.url, f"redirect from {source.url[:200]}" if source else "")

        def on_websocket(socket: Any) -> None:
            if self.foreign(socket.url):
                self.note(result, socket.url, "WebSocket")

        await context.route("**/*", route)
        context.on("request", on_request)
        context.on("page", lambda page: page.on("websocket", on_websocket))
