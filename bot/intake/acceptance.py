"""`POST /webhook`: verify, store durably, acknowledge. Handling happens later, in the worker.

The checks are bot/intake/verification.py's (401/400/413/503 answered at once, nothing stored; `ping` → 200).
A verified delivery is committed to the store, then answered 202; a delivery id seen before → 202, not
handled again. `accept()` is the same commit step for deliveries that an intake process (bot/intake/process.py)
verified and passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web

from bot.intake.limits import UnverifiedBody, UnverifiedBudget
from bot.intake.pacing import IntakePressure
from bot.intake.verification import MAX_BODY, NOT_CONFIGURED, Ping, Rejection, check_delivery
from bot.runtime.logs import delivery_context
from bot.runtime.metrics import Metrics
from bot.store.deliveries import DeliveryStore, IncomingDelivery

log = logging.getLogger(__name__)

__all__ = ["MAX_BODY", "Outcome", "WebhookIntake", "answer", "refusal", "screen"]

#: what became of a verified delivery: committed (`queued`), seen before (`duplicate`), or not stored (`error`)
Outcome = Literal["queued", "duplicate", "error"]


async def screen(
    request: web.Request, secret: str | None, count: Callable[[int], None], budget: UnverifiedBudget
) -> web.Response | IncomingDelivery:
    """Read and check a webhook request: the answer to a refusal or a ping (counted with `count`), or the
    verified delivery to commit. The body is not read when no secret is configured, and is read within
    the limits of bot/intake/limits.py (its bytes count against `budget` until the signature is checked)."""
    if not secret:
        verdict: Rejection | Ping | IncomingDelivery = NOT_CONFIGURED
    else:
        unverified = UnverifiedBody(budget)
        try:
            body = await unverified.read(request)
            verdict = body if isinstance(body, Rejection) else check_delivery(secret, request.headers, body)
        finally:
            unverified.release()
    if isinstance(verdict, Rejection):
        count(verdict.status)
        return refusal(verdict)
    if isinstance(verdict, Ping):
        count(200)
        return web.json_response({"delivery": verdict.delivery_id, "status": "pong"}, status=200)
    return verdict


def answer(delivery_id: str, outcome: Outcome) -> web.Response:
    if outcome == "error":
        return web.json_response({"error": "could not store the delivery; retry"}, status=500)
    return web.json_response({"delivery": delivery_id, "status": outcome}, status=202)


def refusal(rejection: Rejection) -> web.Response:
    return web.json_response({"error": rejection.reason}, status=rejection.status)


class WebhookIntake:
    def __init__(
        self, *, secret: str | None, store: DeliveryStore, metrics: Metrics, on_stored: Any,
        pressure: IntakePressure | None = None,
    ) -> None:
        self.secret = secret
        self.pressure = pressure or IntakePressure()
        self.store = store
        self.metrics = metrics
        #: called with an IncomingDelivery once it is durable (the worker's fast path)
        self.on_stored = on_stored
        self.budget = UnverifiedBudget()

    async def handle(self, request: web.Request) -> web.Response:
        verdict = await screen(request, self.secret, self.count, self.budget)
        if isinstance(verdict, web.Response):
            return verdict
        return answer(verdict.id, await self.accept(verdict))

    def count(self, status: int) -> None:
        """A request answered without storing anything (refused, or a ping)."""
        self.metrics.deliveries_received.inc()
        self.pressure.mark()
        if status >= 400:
            self.metrics.deliveries_rejected.labels(reason=str(status)).inc()

    async def accept(self, delivery: IncomingDelivery) -> Outcome:
        """Commit a verified delivery; the worker is told once it is durable."""
        metrics = self.metrics
        metrics.deliveries_received.inc()
        self.pressure.mark()
        with delivery_context(delivery.id):
            try:
                new = await self.store.record(delivery)
            except Exception:
                log.exception("could not store delivery")
                metrics.deliveries_rejected.labels(reason="500").inc()
                return "error"
            if not new:
                metrics.deliveries_duplicate.inc()
                log.info("duplicate delivery ignored", extra={"event": delivery.event})
                return "duplicate"
            metrics.deliveries_stored.inc()
            self.on_stored(delivery)
        return "queued"
