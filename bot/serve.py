"""`codegen-bot serve`: run the App until SIGTERM/SIGINT.

- `INTAKE_PROCESSES=0` (one process): this process serves HOST:PORT itself.
- `INTAKE_PROCESSES=N`: N intake processes serve HOST:PORT (bot/front_processes.py) and pass verified
  deliveries to this process, the only one that writes the store; its own HTTP app listens on a private
  Unix socket (in a 0700 temporary directory) for the other routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile

from aiohttp import web

from bot.deliveries import IncomingDelivery
from bot.front_processes import FrontProcesses, listening_sockets
from bot.intake import Outcome
from bot.server import BotServer
from config.settings import Settings

log = logging.getLogger(__name__)


class ListenError(Exception):
    """HOST:PORT cannot be listened on (in use, or not an address of this machine)."""


async def serve(settings: Settings) -> None:
    server = BotServer(settings)
    runner = web.AppRunner(server.make_app(), access_log=None, shutdown_timeout=10.0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not settings.intake_processes:
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ListenError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
        print(f"codegen-bot serving on http://{settings.host}:{settings.port}", file=sys.stderr)
        await stop.wait()
        await runner.cleanup()
        return

    try:
        listeners = listening_sockets(settings.host, settings.port, settings.intake_processes)
    except OSError as exc:
        raise ListenError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
    runtime = tempfile.mkdtemp(prefix="codegen-bot-")
    os.chmod(runtime, 0o700)
    core_socket = os.path.join(runtime, "core.sock")
    fronts: FrontProcesses | None = None
    try:
        await runner.setup()  # opens the store and starts the worker
        await web.UnixSite(runner, core_socket).start()

        async def accept(delivery: IncomingDelivery) -> Outcome:
            assert server.intake is not None
            return await server.intake.accept(delivery)

        def count(status: int) -> None:
            if server.intake is not None:
                server.intake.count(status)

        fronts = FrontProcesses(listeners, core_socket, accept, count, log_level=settings.log_level)
        server.secret_listeners.append(fronts.set_secret)
        await fronts.start(server.intake.secret if server.intake else None)
        print(f"codegen-bot serving on http://{settings.host}:{settings.port}"
              f" with {settings.intake_processes} intake processes", file=sys.stderr)
        await stop.wait()
    finally:
        if fronts is not None:
            await fronts.stop()  # the fronts finish first; their deliveries are still committed here
        else:
            for sock in listeners:
                sock.close()
        await runner.cleanup()
        with contextlib.suppress(OSError):
            shutil.rmtree(runtime)
