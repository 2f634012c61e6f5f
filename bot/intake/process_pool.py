"""The core's side of `INTAKE_PROCESSES=N`: one listening socket, N intake processes (bot/intake/process.py) on it.

Why: one Python process verifies, parses and commits about 4,400 deliveries/s (README, Performance). With intake
processes the HTTP parsing, HMAC and JSON checks run on every core, while the core process stays the
store's only writer (one SQLite writer with group commit; several writers would serialize on SQLite's lock).

- The core binds HOST:PORT itself, one SO_REUSEPORT socket per intake process so that the kernel balances
  connections (a port in use fails start-up here); its own HTTP app listens only on a private Unix socket,
  for the routes the intake processes pass on.
- Each intake process gets its listening socket and one end of a private socket pair (bot/intake/link.py), and the
  current webhook secret over it; a reconfigured App (the setup page's manifest flow) sends the new one.
- An intake process that exits on its own is started again (after 1 s); stopping the core stops the intake
  processes first
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

from bot.intake.link import Accept, Count, IntakeLink

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_TIMEOUT = 10.0
BIND_WAIT = 10.0


def listening_sockets(host: str, port: int, count: int, wait: float = BIND_WAIT) -> list[socket.socket]:
    """`count` sockets on HOST:PORT with SO_REUSEPORT: the kernel spreads connections over the intake processes.

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


def intake_process_environment() -> dict[str, str]:
    """The core's environment without the App's credentials: an intake process needs only the webhook secret, which
    it gets over its link."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(("GITHUB_", "CODEGEN_"))}


@dataclass
class _IntakeProcess:
    index: int
    listener: socket.socket
    process: asyncio.subprocess.Process | None = None
    link: IntakeLink | None = None
    #: reads the link; ends (after the commits in flight) once the intake process is gone
    link_task: asyncio.Task[None] | None = None

    async def link_done(self) -> None:
        if self.link_task is not None:
            await asyncio.gather(self.link_task, return_exceptions=True)


class IntakeProcesses:
    def __init__(self, listeners: list[socket.socket], core_socket: str, accept: Accept, count_request: Count,
                 log_level: str = "INFO") -> None:
        self.listeners = listeners
        self.core_socket = core_socket
        self.accept = accept
        self.count_request = count_request
        self.log_level = log_level
        self.secret: str | None = None
        self._processes = [_IntakeProcess(i, sock) for i, sock in enumerate(listeners)]
        self._stopping = False
        self._supervisors: list[asyncio.Task[None]] = []

    async def start(self, secret: str | None) -> None:
        self.secret = secret
        for intake in self._processes:
            await self._spawn(intake)
            self._supervisors.append(asyncio.create_task(self._supervise(intake)))

    def set_secret(self, secret: str | None) -> None:
        self.secret = secret
        for intake in self._processes:
            if intake.link is not None:
                intake.link.send_config(secret)

    async def _spawn(self, intake: _IntakeProcess) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.set_inheritable(True)
        try:
            intake.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.intake.process", "--listen-fd", str(intake.listener.fileno()),
                "--link-fd", str(theirs.fileno()), "--core-socket", self.core_socket,
                "--parent-pid", str(os.getpid()), "--log-level", self.log_level,
                pass_fds=(intake.listener.fileno(), theirs.fileno()), env=intake_process_environment(),
            )
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        intake.link = IntakeLink(reader, writer, self.accept, self.count_request)
        intake.link.send_config(self.secret)
        intake.link_task = asyncio.create_task(intake.link.run())
        log.info("intake process started", extra={"pid": intake.process.pid, "index": intake.index})

    async def _supervise(self, intake: _IntakeProcess) -> None:
        while True:
            assert intake.process is not None
            code = await intake.process.wait()
            await intake.link_done()  # commits in flight end first
            if self._stopping:
                return
            log.error("intake process exited; starting it again",
                      extra={"pid": intake.process.pid, "exit_code": code, "index": intake.index})
            await asyncio.sleep(RESTART_DELAY)
            if self._stopping:
                return
            await self._spawn(intake)

    async def stop(self) -> None:
        self._stopping = True
        for intake in self._processes:
            if intake.process is not None and intake.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    intake.process.send_signal(signal.SIGTERM)
        for intake in self._processes:
            if intake.process is None:
                continue
            try:
                await asyncio.wait_for(intake.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    intake.process.kill()
                await intake.process.wait()
            await intake.link_done()
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        for sock in self.listeners:
            sock.close()
