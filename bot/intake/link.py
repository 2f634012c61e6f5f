"""The link between an intake process (bot/intake/process.py) and the core process that owns the store.

One private socket pair per intake process, created by the core and inherited by the child (no path on
disk, so nothing else can speak on it). Frames: an 8-byte prefix (header length, body length, big-endian),
a JSON header, then the raw body.

intake → core
  {"t": "store", "n": <seq>, "delivery": ..., "event": ..., "action": ..., "installation_id": ...,
   "received_at": ..., "digest": <hex>, "order_key": ...} + the verified body, packed (bot/delivery_body.py);
  the digest and ordering key are derived here (bot/store/delivery_keys.py), so the core stores the packed
  body without unpacking or parsing it: commit it, then answer
  {"n": <seq>, "outcome": "queued" | "duplicate" | "error"} (the intake process answers 202 only after that);
  {"t": "count", "status": <int>}: a request answered without storing (refused, or a ping), for /metrics.
core → intake
  {"t": "config", "secret": <webhook secret or null>}: sent when the link opens and whenever the App is
  (re)configured; until then the intake process answers 503.

When the core goes away the link reads EOF: the intake process fails its pending requests with 503 (nothing was
acknowledged without a commit) and exits.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any, cast

import orjson

from bot.intake.acceptance import Outcome
from bot.runtime.redaction import register_secret
from bot.store.deliveries import IncomingDelivery
from bot.store.delivery_body import unpack
from bot.store.delivery_keys import DeliveryKeys

log = logging.getLogger(__name__)

PREFIX = struct.Struct(">II")
MAX_HEADER = 64 * 1024


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = orjson.dumps(header)
    return PREFIX.pack(len(head), len(body)) + head + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """The next frame; raises asyncio.IncompleteReadError at EOF."""
    head_len, body_len = PREFIX.unpack(await reader.readexactly(PREFIX.size))
    if head_len > MAX_HEADER:
        raise ValueError("intake link: header too large")
    header = orjson.loads(await reader.readexactly(head_len))
    body = await reader.readexactly(body_len) if body_len else b""
    return header, body


# --- the intake process's side --------------------------------------------------------------------------
class CoreLink:
    """The intake's end: sends verified deliveries, waits for the commit, keeps the current secret."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.secret: str | None = None
        self._seq = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self.closed = asyncio.Event()

    async def run(self) -> None:
        """Read the core's frames until EOF; then every pending request fails."""
        try:
            while True:
                header, _ = await read_frame(self.reader)
                if header.get("t") == "config":
                    self.secret = header.get("secret")
                    if self.secret:
                        register_secret(self.secret)
                    continue
                future = self._pending.pop(int(header["n"]), None)
                if future is not None and not future.done():
                    future.set_result(cast(Outcome, header["outcome"]))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the core process is gone"))
            self._pending.clear()

    async def store(self, delivery: IncomingDelivery) -> Outcome:
        """Hand a verified delivery to the core; its outcome once committed. ConnectionError if the core is gone."""
        if self.closed.is_set():
            raise ConnectionError("the core process is gone")
        seq = next(self._seq)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        header = {"t": "store", "n": seq, "delivery": delivery.id, "event": delivery.event,
                  "action": delivery.action, "installation_id": delivery.installation_id,
                  "received_at": delivery.received_at}
        if delivery.keys is not None:
            header |= {"digest": delivery.keys.digest.hex(), "order_key": delivery.keys.order_key}
        self.writer.write(encode(header, delivery.stored_body()))
        if self.writer.transport.get_write_buffer_size() > 1 << 20:
            await self.writer.drain()
        return await future

    def count(self, status: int) -> None:
        if not self.closed.is_set():
            self.writer.write(encode({"t": "count", "status": status}))


# --- the core's side ---------------------------------------------------------------------------
Accept = Callable[[IncomingDelivery], Awaitable[Outcome]]
Count = Callable[[int], None]


class IntakeLink:
    """The core's end of one intake process's link."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, accept: Accept,
                 count: Count) -> None:
        self.reader = reader
        self.writer = writer
        self.accept = accept
        self.count = count
        self._tasks: set[asyncio.Task[None]] = set()

    def send_config(self, secret: str | None) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode({"t": "config", "secret": secret}))

    async def run(self) -> None:
        try:
            while True:
                header, body = await read_frame(self.reader)
                kind = header.get("t")
                if kind == "count":
                    self.count(int(header["status"]))
                elif kind == "store":
                    task = asyncio.create_task(self._store(header, body))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:
            log.exception("intake link: bad frame; closing the link")
        finally:
            if self._tasks:  # let commits in flight finish (their intake processes may be gone; the data is kept)
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self.writer.close()

    async def _store(self, header: dict[str, Any], body: bytes) -> None:
        keys = None
        if "digest" in header:  # derived by the intake process: the body need not be unpacked here
            keys = DeliveryKeys(bytes.fromhex(str(header["digest"])), header.get("order_key"))
        delivery = IncomingDelivery(
            id=str(header["delivery"]), event=str(header["event"]), action=header.get("action"),
            installation_id=header.get("installation_id"), body=b"" if keys is not None else unpack(body),
            received_at=float(header["received_at"]), packed=body, keys=keys,
        )
        outcome = await self.accept(delivery)
        if not self.writer.is_closing():
            self.writer.write(encode({"n": header["n"], "outcome": outcome}))
