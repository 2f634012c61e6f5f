"""A minimal GitHub stand-in for benchmarks: canned answers, no contract checks (the tests do those).

Answers the calls the bot makes while handling `pull_request` deliveries: an installation token, a 404
for `.github/codegen.yml` (defaults apply), an empty list of the pull request's changed files (the config
check asks whether it changes the config) and check-run creation.
"""

from __future__ import annotations

import itertools
import sys
import time

from aiohttp import web

_ids = itertools.count(1)


async def token(_request: web.Request) -> web.Response:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    return web.json_response({"token": "ghs_" + "b" * 36, "expires_at": expires}, status=201)


async def not_found(_request: web.Request) -> web.Response:
    return web.json_response({"message": "Not Found"}, status=404)


async def no_files(_request: web.Request) -> web.Response:
    return web.json_response([])


async def check_run(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"id": next(_ids), "name": body.get("name"), "head_sha": body.get("head_sha")}, status=201)


def main() -> None:
    app = web.Application()
    app.router.add_post("/app/installations/{id}/access_tokens", token)
    app.router.add_get("/repos/{owner}/{repo}/contents/{path:.*}", not_found)
    app.router.add_get("/repos/{owner}/{repo}/installation", not_found)
    app.router.add_get("/repos/{owner}/{repo}/pulls/{number}/files", no_files)
    app.router.add_post("/repos/{owner}/{repo}/check-runs", check_run)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
