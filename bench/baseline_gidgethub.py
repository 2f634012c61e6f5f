"""The floor to compare against: a bare gidgethub + aiohttp app that verifies each delivery and dispatches
it to a no-op handler, persisting nothing (what Probot's figure also measures)."""

from __future__ import annotations

import os
import sys

from aiohttp import web
from gidgethub import routing, sansio

router = routing.Router()


@router.register("pull_request")
async def noop(event: sansio.Event) -> None:
    return None


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    event = sansio.Event.from_http(request.headers, body, secret=os.environ["GITHUB_WEBHOOK_SECRET"])
    await router.dispatch(event)
    return web.Response(status=202)


def main() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = web.Application(client_max_size=26 * 1024 * 1024)
    app.router.add_post("/webhook", webhook)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
