"""A tiny web app used to show and test codegen-bot's validation: pages, a sign-in flow, a health URL."""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

ENV = Environment(autoescape=select_autoescape())
PAGE = ENV.from_string(
    "<!doctype html><html><head><title>{{ title }}</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/about'>About</a> <a href='/login'>Sign in</a></nav>"
    "<h1>{{ title }}</h1>{{ body }}</body></html>"
)
LOGIN = (
    "<form method='post' action='/login'><input id='user' name='user'>"
    "<button type='submit'>Sign in</button></form>"
)


def greet(name: str) -> str:
    return f"Hello, {name}"


class Handler(BaseHTTPRequestHandler):
    def _page(self, status: int, title: str, body: str) -> None:
        data = PAGE.render(title=title, body=Markup(body)).encode()  # body: markup built by this module
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/healthz":
            self._page(200, "ok", "")
        elif path == "/":
            self._page(200, "Welcome", "<p>The example app.</p>")
        elif path == "/about":
            self._page(200, "About", "<p>Validated by codegen-bot.</p>")
        elif path == "/login":
            self._page(200, "Sign in", LOGIN)
        elif path == "/dashboard":
            user = parse_qs(urlparse(self.path).query).get("user", ["stranger"])[0]
            self._page(200, "Dashboard", f"<p id='dashboard'>{ENV.from_string('{{ g }}').render(g=greet(user))}</p>")
        else:
            self._page(404, "Not found", "")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        user = form.get("user", ["stranger"])[0]
        self.send_response(303)
        self.send_header("Location", f"/dashboard?user={user}")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
