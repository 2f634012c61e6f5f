"""An intake process: serves the bot's public port beside other intake processes (`INTAKE_PROCESSES`).

Started by the core process (bot/intake/process_pool.py), never by hand:

    python -m bot.intake.process --listen-fd N --link-fd M --core-socket PATH [--log-level INFO]

- `POST /webhook`: the body is read and checked here (bot/intake/verification.py: signature, headers, JSON), so
  HTTP parsing, HMAC and JSON use this process's CPU; a verified delivery goes over the link to the core,
  which commits it to the store, and only then is 202 answered. Refusals and pings are answered here.
- every other route (setup page, /healthz, /metrics, artifacts) is passed to the core over its private Unix
  socket, unchanged.
- the process ends when the core does (the link reads EOF, and the kernel sends SIGTERM on the parent's
  death), answering 503 for anything not yet committed; on SIGTERM it stops accepting and finishes what
  is in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from bot.intake.acceptance import answer, refusal, screen
from bot.intake.limits import UnverifiedBudget, runner_options
from bot.intake.link import CoreLink
from bot.intake.verification import MAX_BODY, Rejection
from bot.runtime.logs import configure_logging

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length"}
GONE = Rejection(503, "the bot is restarting; retry")
PR_SET_PDEATHSIG = 1


class IntakeProcess:
    def __init__(self, link: CoreLink, core_socket: str) -> None:
        self.link = link
        self.core_socket = core_socket
        self.session: aiohttp.ClientSession | None = None
        self.budget = UnverifiedBudget()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)
        app.router.add_post("/webhook", self.webhook)
        app.router.add_route("*", "/{tail:.*}", self.to_core)
        app.on_cleanup.append(self._cleanup)
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        verdict = await screen(request, self.link.secret, self.link.count, self.budget)
        if isinstance(verdict, web.Response):
            return verdict
        try:
            outcome = await self.link.store(verdict)
        except ConnectionError:
            return refusal(GONE)
        return answer(verdict.id, outcome)

    async def to_core(self, request: web.Request) -> web.StreamResponse:
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=self.core_socket),
                                                 auto_decompress=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            async with self.session.request(
                request.method, f"http://core{request.rel_url}", headers=headers, data=await request.read(),
                allow_redirects=False,
            ) as upstream:
                body = await upstream.read()
                # a multidict: an answer may carry several headers of one name (two Set-Cookie)
                out = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP)
                return web.Response(status=upstream.status, headers=out, body=body)
        except aiohttp.ClientError:
            return web.json_response({"error": "the bot's core process is not answering"}, status=502)

    async def _cleanup(self, _app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()


async def serve(listen_fd: int, link_fd: int, core_socket: str) -> None:
    loop = asyncio.get_running_loop()
    link_sock = socket.socket(fileno=link_fd)
    reader, writer = await asyncio.open_connection(sock=link_sock)
    link = CoreLink(reader, writer)
    link_task = asyncio.create_task(link.run())
    runner = web.AppRunner(IntakeProcess(link, core_socket).make_app(), shutdown_timeout=5.0, **runner_options())
    await runner.setup()
    listener = socket.socket(fileno=listen_fd)
    await web.SockSite(runner, listener).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({stopped, asyncio.ensure_future(link.closed.wait())}, return_when=asyncio.FIRST_COMPLETED)
    await runner.cleanup()  # stops accepting, lets in-flight requests end
    writer.close()
    link_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await link_task


def _die_with_parent() -> None:
    """SIGTERM when the core process dies, even by kill -9 (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.intake.process")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--link-fd", type=int, required=True)
    parser.add_argument("--core-socket", required=True)
    parser.add_argument("--parent-pid", type=int, default=0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    _die_with_parent()
    if args.parent_pid and os.getppid() != args.parent_pid:
        return 0  # the core died before we could ask to follow it
    configure_logging(args.log_level)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(serve(args.listen_fd, args.link_fd, args.core_socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
