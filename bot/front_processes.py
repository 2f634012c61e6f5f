"""The core's side of `INTAKE_PROCESSES=N`: one listening socket, N intake processes (bot/front.py) on it.

Why: one Python process verifies, parses and commits about 3,000 deliveries/s on one core. With intake
processes the HTTP parsing, HMAC and JSON checks run on every core, while the core process stays the
store's only writer (one SQLite writer with group commit; several writers would serialize on SQLite's lock).

- The core binds HOST:PORT itself, one SO_REUSEPORT socket per front so that the kernel balances
  connections (a port in use fails start-up here); its own HTTP app listens only on a private Unix socket,
  for the routes the fronts pass on.
- Each front gets its listening socket and one end of a private socket pair (bot/intake_link.py), and the
  current webhook secret over it; a reconfigured App (the setup page's manifest flow) sends the new one.
- A front that exits on its own is started again (after 1 s); stopping the core stops the fronts first
  (SIGTERM, then SIGKILL after 10 s) while the core still commits what they have in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

from bot.intake_link import Accept, Count, FrontLink

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_TIMEOUT = 10.0
BIND_WAIT = 10.0


def listening_sockets(host: str, port: int, count: int, wait: float = BIND_WAIT) -> list[socket.socket]:
    """`count` sockets on HOST:PORT with SO_REUSEPORT, so the kernel spreads connections evenly over the fronts.

    A first bind without SO_REUSEPORT proves the port free (a port in use fails here, after waiting up to
    `wait` seconds for a previous instance's processes to let go of it). Port 0 picks a free port.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    deadline = time.monotonic() + wait
    while True:
        probe = socket.socket(family, kind, proto)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        try:
            probe.bind(address)
            address = (address[0], probe.getsockname()[1], *address[2:])
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            probe.close()
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


def front_environment() -> dict[str, str]:
    """The core's environment without the App's credentials: a front needs only the webhook secret, which
    it gets over its link."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(("GITHUB_", "CODEGEN_"))}


@dataclass
class _Front:
    index: int
    listener: socket.socket
    process: asyncio.subprocess.Process | None = None
    link: FrontLink | None = None
    #: reads the link; ends (after the commits in flight) once the front is gone
    link_task: asyncio.Task[None] | None = None

    async def link_done(self) -> None:
        if self.link_task is not None:
            await asyncio.gather(self.link_task, return_exceptions=True)


class FrontProcesses:
    def __init__(self, listeners: list[socket.socket], core_socket: str, accept: Accept, count_request: Count,
                 log_level: str = "INFO") -> None:
        self.listeners = listeners
        self.core_socket = core_socket
        self.accept = accept
        self.count_request = count_request
        self.log_level = log_level
        self.secret: str | None = None
        self._fronts = [_Front(i, sock) for i, sock in enumerate(listeners)]
        self._stopping = False
        self._supervisors: list[asyncio.Task[None]] = []

    async def start(self, secret: str | None) -> None:
        self.secret = secret
        for front in self._fronts:
            await self._spawn(front)
            self._supervisors.append(asyncio.create_task(self._supervise(front)))

    def set_secret(self, secret: str | None) -> None:
        self.secret = secret
        for front in self._fronts:
            if front.link is not None:
                front.link.send_config(secret)

    async def _spawn(self, front: _Front) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.set_inheritable(True)
        try:
            front.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.front", "--listen-fd", str(front.listener.fileno()),
                "--link-fd", str(theirs.fileno()), "--core-socket", self.core_socket,
                "--parent-pid", str(os.getpid()), "--log-level", self.log_level,
                pass_fds=(front.listener.fileno(), theirs.fileno()), env=front_environment(),
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        front.link = FrontLink(reader, writer, self.accept, self.count_request)
        front.link.send_config(self.secret)
        front.link_task = asyncio.create_task(front.link.run())
        log.info("intake process started", extra={"pid": front.process.pid, "index": front.index})

    async def _supervise(self, front: _Front) -> None:
        while True:
            assert front.process is not None
            code = await front.process.wait()
            await front.link_done()  # commits in flight end first
            if self._stopping:
                return
            log.error("intake process exited; starting it again",
                      extra={"pid": front.process.pid, "exit_code": code, "index": front.index})
            await asyncio.sleep(RESTART_DELAY)
            if self._stopping:
                return
            await self._spawn(front)

    async def stop(self) -> None:
        self._stopping = True
        for front in self._fronts:
            if front.process is not None and front.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    front.process.send_signal(signal.SIGTERM)
        for front in self._fronts:
            if front.process is None:
                continue
            try:
                await asyncio.wait_for(front.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    front.process.kill()
                await front.process.wait()
            await front.link_done()
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        for sock in self.listeners:
            sock.close()
