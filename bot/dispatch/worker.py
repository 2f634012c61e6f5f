"""The delivery worker: hands stored deliveries to the handlers, outside any HTTP request.

- Fast path: the intake passes each delivery, once committed, to `notify`; it waits in a bounded in-memory
  queue. When that queue is full the delivery stays only in the store and the scanner brings it back, so
  memory stays bounded under any load and nothing is lost. From the first delivery left to the store until
  the scanner has caught up, every new delivery is left to the store too: a newer delivery never overtakes
  an older one of the same issue by squeezing into the queue first. The scanner queues deliveries with
  their bodies, so a worker goes from taking an item to holding its issue's lock without waiting on
  anything: items of one issue taken in order keep that order.
- Start-up and retries: the scanner reads pending deliveries from the store (after a crash these are the
  acknowledged deliveries that were not fully handled) and queues them, oldest first.
- Before the callbacks run, `handler_args` resolves once per delivery what every callback receives after
  the event (the composition root resolves the installation and its API client here, as bedevere's entry
  point hands `gh` to its handlers); `None` means there is nothing to act with (the App is not installed
  on the repository) and the delivery is recorded as handled.
- Every callback registered for the event runs on its own, concurrently with the event's other callbacks
  (they are independent): one that raises is logged with the delivery id, counted and recorded, and never
  stops the other callbacks or the worker. Every callback that completed is recorded (the only one of a
  delivery too), so a retry or a restart re-runs only what did not finish. The attempt is known to the
  callbacks (`bot.runtime.logs.delivery_attempt`): above 1, an earlier attempt may have written already.
- `delivery_lag` observes, for each delivery's first attempt, the time from its storing to its handling.
- Deliveries about the same issue or pull request are handled one after another, in order of receipt;
  others run concurrently (`WORKER_CONCURRENCY`).
- A delivery that was in flight during a crash counts an attempt each time; after `MAX_ATTEMPTS` it is
  marked failed instead of being run again (a payload that crashes the process cannot crash it forever).
- Several replicas on one PostgreSQL store (`claims` given): nothing is queued in memory on receipt; the
  scanner claims deliveries from the store under a lease, at most one per issue/PR in the whole cluster and
  oldest first (bot/dispatch/delivery_claims.py), renews the leases of what it handles, and looks again
  whenever a delivery is stored (here, or on another replica: `wake`) or one it handled ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from gidgethub import routing, sansio

from bot.dispatch.delivery_claims import DeliveryClaims
from bot.intake.pacing import HandlingPacer
from bot.runtime.logs import delivery_context
from bot.runtime.metrics import Metrics
from bot.runtime.redaction import redact
from bot.store.deliveries import MAX_ATTEMPTS, DeliveryStore, IncomingDelivery, StoredDelivery
from bot.store.delivery_keys import ordering_key

log = logging.getLogger(__name__)

#: longest a single callback may run; long work (validations, agent runs) goes to the job queue instead
CALLBACK_TIMEOUT = 600.0
#: cluster mode: the least time between two claims of one replica. Every stored delivery (on any replica)
#: NOTIFYs every replica; under a burst that is hundreds of wake-ups a second, and a claim per wake-up would
#: spend the database's time on claims that find nothing (one pull request's deliveries go one at a time).
#: Wake-ups during the gap are merged into the next claim, which takes up to the worker's room.
CLAIM_INTERVAL = 0.01


#: what every callback of one delivery receives after the event; None: no callback runs
HandlerArgs = Callable[[sansio.Event], Awaitable[tuple[Any, ...] | None]]


@dataclass
class _Item:
    id: str
    stored: StoredDelivery | None = None


def callback_name(callback: Callable[..., Any]) -> str:
    return f"{callback.__module__}.{callback.__qualname__}"


class DeliveryWorker:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        router: routing.Router,
        handler_args: HandlerArgs,
        metrics: Metrics,
        concurrency: int = 4,
        queue_limit: int = 1000,
        scan_interval: float = 5.0,
        pacer: HandlingPacer | None = None,
        claims: DeliveryClaims | None = None,
    ) -> None:
        self.pacer = pacer
        #: several replicas share the store: deliveries are claimed from it under a lease
        self.claims = claims
        self.store = store
        self.router = router
        self.handler_args = handler_args
        self.metrics = metrics
        self.concurrency = concurrency
        self.scan_interval = scan_interval
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_limit)
        self._known: set[str] = set()
        self._bodies: dict[str, IncomingDelivery] = {}
        self._scan_now = asyncio.Event()
        #: deliveries are being left to the store (the queue overflowed); `_spills` counts them
        self._spilling = False
        self._spills = 0
        #: the last scan may have left due deliveries in the store (it filled the queue): scan again once the
        #: queue is half empty, not only at the next `scan_interval`
        self._backlog = False
        self._tasks: list[asyncio.Task[None]] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = 0

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self.claims is not None:
            released = await self.claims.release_own()
            if released:
                log.warning("%d delivery(ies) interrupted by a restart are claimable again", released)
        self._tasks = [asyncio.create_task(self._run(), name=f"worker-{i}") for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._scan_loop(), name="worker-scan"))
        if self.claims is not None:
            self._tasks.append(asyncio.create_task(self._renew_loop(), name="worker-leases"))
        self._scan_now.set()

    @property
    def _owner(self) -> str | None:
        """The replica whose claim a finish needs (several replicas); None: one process."""
        return self.claims.owner if self.claims is not None else None

    def wake(self) -> None:
        """A delivery was stored (on another replica too): look for claimable ones now."""
        self._scan_now.set()

    async def _renew_loop(self) -> None:
        assert self.claims is not None
        while True:
            await asyncio.sleep(self.claims.lease / 3)
            try:
                await self.claims.renew(sorted(self._known))
            except Exception:
                log.exception("renewing delivery leases failed")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # --- intake -----------------------------------------------------------------------------
    def notify(self, delivery: IncomingDelivery) -> None:
        """A delivery is durable: queue it in memory if there is room, else leave it to the scanner."""
        self.metrics.queue_depth.inc()
        if self.claims is not None:  # the store says who handles it, and in which order
            self._scan_now.set()
            return
        if delivery.id in self._known:
            return
        if self._spilling:  # older deliveries wait in the store: this one queues behind them, through it
            self._spills += 1
            self._scan_now.set()
            return
        try:
            self._queue.put_nowait(_Item(delivery.id))
        except asyncio.QueueFull:
            self._spilling, self._spills = True, self._spills + 1
            self._scan_now.set()
            return
        self._known.add(delivery.id)
        self._bodies[delivery.id] = delivery
        self._idle.clear()

    async def wait_idle(self, within: float) -> None:
        """Wait until nothing is queued or running (tests and orderly shutdown)."""
        async with asyncio.timeout(within):
            while True:
                await self._idle.wait()
                pending = await self.store.due(limit=1, exclude=set())
                if not pending and self._queue.empty() and self._busy == 0:
                    return
                self._scan_now.set()
                await asyncio.sleep(0.05)

    # --- loops ------------------------------------------------------------------------------
    async def _scan_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.scan_interval):
                    await self._scan_now.wait()
            self._scan_now.clear()
            try:
                await self._scan_once()
            except Exception:
                log.exception("scanning the store for pending deliveries failed")
            if self.claims is not None:
                await asyncio.sleep(CLAIM_INTERVAL)

    async def _scan_once(self) -> None:
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            self._backlog = True
            return
        if self.claims is not None:  # claim what this replica can start soon; the others claim the rest
            await self._claim_once(min(room, 2 * self.concurrency - self._busy - self._queue.qsize()))
            return
        spills = self._spills
        ids = await self.store.due(limit=room, exclude=self._known)
        self.metrics.queue_depth.set(await self.store.pending_count())
        for delivery_id in ids:
            if delivery_id in self._known:
                continue
            stored = await self.store.load(delivery_id)
            if stored is None or delivery_id in self._known:
                continue
            self._known.add(delivery_id)
            self._idle.clear()
            await self._queue.put(_Item(delivery_id, stored))
        self._backlog = len(ids) == room
        if len(ids) == room:
            self._scan_now.set()
        elif spills == self._spills:  # caught up, and nothing was left to the store meanwhile
            self._spilling = False
        else:
            self._scan_now.set()

    async def _claim_once(self, room: int) -> None:
        assert self.claims is not None
        if room <= 0:
            return
        claimed = await self.claims.claim(room)
        for stored in claimed:
            self._known.add(stored.id)
            self._idle.clear()
            await self._queue.put(_Item(stored.id, stored))
        if len(claimed) == room or self.claims.contended:
            self._scan_now.set()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            self._busy += 1
            if self.pacer is not None:
                await self.pacer.wait()
            try:
                await self._handle(item)
            except Exception:
                log.exception("delivery handling failed outside a handler", extra={"delivery_id": item.id})
            finally:
                self._known.discard(item.id)
                self._bodies.pop(item.id, None)
                if self.claims is not None:  # its issue's next delivery may be claimable now
                    self._scan_now.set()
                elif self._backlog and self._queue.qsize() <= self._queue.maxsize // 2:
                    self._scan_now.set()  # more wait in the store: refill the queue before it runs dry
                self._busy -= 1
                if self._busy == 0 and self._queue.empty():
                    self._idle.set()

    # --- one delivery -----------------------------------------------------------------------
    async def _load(self, item: _Item) -> StoredDelivery | None:
        """The delivery, without waiting when it is in memory (always, but for a replay race)."""
        if item.stored is not None:
            return item.stored
        fresh = self._bodies.get(item.id)
        if fresh is not None:
            return StoredDelivery(fresh.id, fresh.event, fresh.body, 0, frozenset(), fresh.received_at)
        return await self.store.load(item.id)

    async def _handle(self, item: _Item) -> None:
        delivery_id = item.id
        delivery = await self._load(item)
        if delivery is None:  # handled meanwhile (or replay raced): nothing to do
            return
        with delivery_context(delivery_id, attempt=delivery.attempts + 1):
            if delivery.attempts >= MAX_ATTEMPTS:
                log.error("delivery crashed the bot %d times; marked failed", delivery.attempts)
                await self.store.finish(delivery_id, ["interrupted during every attempt"], delivery.attempts,
                                        self._owner)
                self.metrics.deliveries_handled.labels(outcome="failed").inc()
                return
            data = orjson.loads(delivery.body)
            event = sansio.Event(data, event=delivery.event, delivery_id=delivery_id)
            key = ordering_key(data)
            if key is None:
                await self._dispatch(event, delivery)
                return
            lock = self._locks.setdefault(key, asyncio.Lock())
            self._lock_users[key] = self._lock_users.get(key, 0) + 1
            try:
                async with lock:
                    await self._dispatch(event, delivery)
            finally:
                self._lock_users[key] -= 1
                if self._lock_users[key] == 0:
                    del self._lock_users[key]
                    del self._locks[key]

    async def _dispatch(self, event: sansio.Event, delivery: StoredDelivery) -> None:
        attempt = delivery.attempts + 1
        if attempt == 1 and delivery.received_at:  # from its storing (GitHub sends no time) to its handling
            self.metrics.delivery_lag.observe(max(0.0, time.time() - delivery.received_at))
        await self.store.start_attempt(delivery.id)
        callbacks = sorted(self.router.fetch(event), key=callback_name)
        started = time.monotonic()
        try:
            args = await self.handler_args(event) if callbacks else ()
        except Exception as exc:  # e.g. GitHub did not answer who is installed: retried like a handler
            log.exception("resolving the delivery's installation failed", extra={"event": event.event})
            await self._finish(delivery, [redact(f"installation: {type(exc).__name__}: {exc}")], attempt, started)
            return
        if args is None:
            log.info("no installation can act on this delivery; nothing to do", extra={"event": event.event})
            callbacks = []

        async def run_one(callback: Callable[..., Any]) -> str | None:
            name = callback_name(callback)
            try:
                async with asyncio.timeout(CALLBACK_TIMEOUT):
                    await callback(event, *args)
            except Exception as exc:
                self.metrics.handler_errors.labels(handler=name).inc()
                log.exception("handler %s raised", name, extra={"event": event.event, "handler": name})
                return redact(f"{name}: {type(exc).__name__}: {exc}")
            await self.store.callback_done(delivery.id, name)  # one callback or many: never run again
            return None

        # the callbacks of one event are independent: they run side by side, each on its own
        pending = [cb for cb in callbacks if callback_name(cb) not in delivery.done_callbacks]
        outcomes = await asyncio.gather(*(run_one(cb) for cb in pending))
        await self._finish(delivery, [error for error in outcomes if error is not None], attempt, started)

    async def _finish(self, delivery: StoredDelivery, errors: list[str], attempt: int, started: float) -> None:
        self.metrics.handler_latency.observe(time.monotonic() - started)
        state = await self.store.finish(delivery.id, errors, attempt, self._owner)
        self.metrics.deliveries_handled.labels(outcome=state).inc()
        self.metrics.queue_depth.dec()
        if state == "pending":
            log.warning("delivery will be retried", extra={"attempt": attempt})
