"""The status page's HTML: Jinja2 templates (templates/, installed with the package), autoescaped, no script.

Every page is sent with a Content-Security-Policy that allows no script at all, only the inline stylesheet,
images of this site and forms posting to it; and `Cache-Control: no-store` (what a page shows depends on who
is signed in).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from handlers.status.views import when

ENV = Environment(
    loader=PackageLoader("handlers.status", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals["when"] = when
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(template: str, http_status: int = 200, **context: Any) -> web.Response:
    body = ENV.get_template(template).render(**context)
    return web.Response(text=body, status=http_status, content_type="text/html", headers=HEADERS)


def not_found() -> web.Response:
    """The same answer for a page that does not exist and one the user may not see."""
    return render("not_found.html", 404, user=None, csrf="", operator_link=False)
