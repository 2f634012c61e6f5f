"""What both fake services (GitHub, Codegen) share: the local HTTP server and scripted faults.

- `LocalServer` serves one catch-all handler on 127.0.0.1, on a port the OS picks at `start()`.
- `Faults` holds scripted answers: the next `times` requests whose method matches (`"*"`: any) and whose
  path matches the pattern get the fault's status, headers and body instead of the normal answer. A
  pattern matches a path as an fnmatch glob, or exactly one of the names the fake gives the request
  (the fake GitHub gives the operationId and the description's path template).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["Fault", "Faults", "LocalServer"]


class LocalServer:
    """An aiohttp server on 127.0.0.1 that sends every request to `handler`."""

    def __init__(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], *, client_max_size: int
    ) -> None:
        self._handler = handler
        self._client_max_size = client_max_size
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """"http://127.0.0.1:PORT" (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=self._client_max_size)
        app.router.add_route("*", "/{tail:.*}", self._handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    headers: dict[str, str]
    body: Any
    remaining: int


class Faults:
    """Scripted faults, taken in the order they were added."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []

    def add(
        self, method: str, pattern: str, status: int, headers: dict[str, str], body: Any, times: int
    ) -> None:
        self._queue.append(Fault(method.upper(), pattern, status, headers, body, times))

    def take(self, method: str, path: str, names: Iterable[str] = ()) -> Fault | None:
        """The first fault for this request (used up after its `times`), or None."""
        names = tuple(names)
        for fault in self._queue:
            if fault.method not in ("*", method):
                continue
            if fault.pattern in names or fnmatch.fnmatchcase(path, fault.pattern):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._queue.remove(fault)
                return fault
        return None
