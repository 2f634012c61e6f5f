"""`codegen-bot serve`: run the App until SIGTERM/SIGINT.

- `INTAKE_PROCESSES=0` (one process): this process serves HOST:PORT itself.
- `ADMIN_PORT` set: `/metrics` and `/healthz` are also served on ADMIN_HOST:ADMIN_PORT (and `/metrics` no
  longer on HOST:PORT).
- `INTAKE_PROCESSES=N`: N intake processes serve HOST:PORT (bot/intake/process_pool.py) and pass verified
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
import socket
import sys
import tempfile

from aiohttp import web

from bot.intake.acceptance import Outcome
from bot.intake.limits import runner_options
from bot.intake.process_pool import IntakeProcesses, listening_sockets
from bot.runtime.server import BotServer
from bot.store.deliveries import IncomingDelivery
from config.settings import Settings
from entrypoints.app import make_server

log = logging.getLogger(__name__)


class ListenError(Exception):
    """HOST:PORT cannot be listened on (in use, or not an address of this machine)."""


async def serve(settings: Settings) -> None:
    server = make_server(settings)
    runner = web.AppRunner(server.make_app(), shutdown_timeout=10.0, **runner_options())
    admin = web.AppRunner(server.make_admin_app(), access_log=None) if settings.admin_port is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if not settings.intake_processes:
            await _serve_in_process(settings, runner, admin, stop)
        else:
            await _serve_with_intake_processes(settings, server, runner, admin, stop)
    finally:
        if admin is not None:
            await admin.cleanup()


def _cannot_listen(host: str, port: int | None, exc: OSError) -> ListenError:
    return ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


async def _start_admin(settings: Settings, admin: web.AppRunner | None) -> None:
    if admin is None:
        return
    await admin.setup()
    try:
        await web.TCPSite(admin, settings.admin_host, settings.admin_port).start()
    except OSError as exc:
        raise _cannot_listen(settings.admin_host, settings.admin_port, exc) from exc
    print(f"codegen-bot admin (metrics) on http://{settings.admin_host}:{settings.admin_port}", file=sys.stderr)


async def _serve_in_process(
    settings: Settings, runner: web.AppRunner, admin: web.AppRunner | None, stop: asyncio.Event
) -> None:
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, settings.host, settings.port).start()
        except OSError as exc:
            raise _cannot_listen(settings.host, settings.port, exc) from exc
        await _start_admin(settings, admin)
        print(f"codegen-bot serving on http://{settings.host}:{settings.port}", file=sys.stderr)
        await stop.wait()
    finally:
        await runner.cleanup()


async def _serve_with_intake_processes(
    settings: Settings, server: BotServer, runner: web.AppRunner, admin: web.AppRunner | None, stop: asyncio.Event
) -> None:
    try:
        listeners = listening_sockets(settings.host, settings.port, settings.intake_processes)
    except OSError as exc:
        raise _cannot_listen(settings.host, settings.port, exc) from exc
    runtime = tempfile.mkdtemp(prefix="codegen-bot-")
    os.chmod(runtime, 0o700)
    intake_processes: IntakeProcesses | None = None
    try:
        await runner.setup()  # opens the store and starts the worker
        await web.UnixSite(runner, os.path.join(runtime, "core.sock")).start()
        await _start_admin(settings, admin)
        intake_processes = _intake_processes(settings, server, listeners, os.path.join(runtime, "core.sock"))
        server.secret_listeners.append(intake_processes.set_secret)
        await intake_processes.start(server.intake.secret if server.intake else None)
        print(f"codegen-bot serving on http://{settings.host}:{settings.port}"
              f" with {settings.intake_processes} intake processes", file=sys.stderr)
        await stop.wait()
    finally:
        if intake_processes is not None:
            await intake_processes.stop()  # they finish first; their deliveries are still committed
        else:
            for sock in listeners:
                sock.close()
        await runner.cleanup()
        with contextlib.suppress(OSError):
            shutil.rmtree(runtime)


def _intake_processes(
    settings: Settings, server: BotServer, listeners: list[socket.socket], core_socket: str
) -> IntakeProcesses:
    async def accept(delivery: IncomingDelivery) -> Outcome:
        assert server.intake is not None
        return await server.intake.accept(delivery)

    def count(status: int) -> None:
        if server.intake is not None:
            server.intake.count(status)

    return IntakeProcesses(listeners, core_socket, accept, count, log_level=settings.log_level)
