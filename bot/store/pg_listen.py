"""`LISTEN` on PostgreSQL: wakes this replica's worker and job queue when another replica stores a delivery or
queues a job, instead of polling for them.

One thread per replica holds its own connection (autocommit), listens on the given channels and hands each
notification's payload to the channel's callback on the event loop. A lost connection is replaced (with a
pause); meanwhile the worker and the queue still look every few seconds, so a notification missed is late
work, never lost work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

#: seconds between two looks at the stop flag while no notification comes
TICK = 1.0
#: pause before reconnecting after the connection was lost
RECONNECT_PAUSE = 2.0


class Listener:
    def __init__(self, url: str, callbacks: Mapping[str, Callable[[str], None]]) -> None:
        self.url = url
        self.callbacks = dict(callbacks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connected = threading.Event()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._main, name="db-listen", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, TICK * 3)
            self._thread = None

    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error:
                log.warning("listening for other replicas' work failed; reconnecting", exc_info=True)
            self.connected.clear()
            self._stop.wait(RECONNECT_PAUSE)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            for channel in self.callbacks:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self.connected.set()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=TICK):
                    self._deliver(note.channel, note.payload)

    def _deliver(self, channel: str, payload: str) -> None:
        callback = self.callbacks.get(channel)
        if callback is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: the replica is stopping
            self._loop.call_soon_threadsafe(callback, payload)
