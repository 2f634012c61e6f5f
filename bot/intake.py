"""`POST /webhook`: verify, store durably, acknowledge. Handling happens later, in the worker.

Order of checks (each answers at once and stores nothing):

1. no webhook secret configured → 503 (the App is not set up; nothing can be verified);
2. body larger than GitHub's 25 MiB cap → 413 (checked on Content-Length before reading, and while reading);
3. `X-Hub-Signature-256` missing → 401; wrong → 401 (HMAC-SHA256 over the raw body, constant-time compare,
   before anything parses the body);
4. `X-GitHub-Event` / `X-GitHub-Delivery` missing, or a body that is not a JSON object → 400;
5. `ping` → 200;
6. otherwise the delivery is committed to the store, then 202. A delivery id seen before → 202, not
   handled again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from aiohttp import web
from gidgethub import ValidationFailure
from gidgethub.sansio import validate_event

from bot.deliveries import DeliveryStore, IncomingDelivery
from bot.logs import delivery_context
from bot.metrics import Metrics
from bot.pacing import IntakePressure

log = logging.getLogger(__name__)

#: GitHub caps webhook payloads at 25 MB
MAX_BODY = 25 * 1024 * 1024


def _reject(status: int, reason: str, metrics: Metrics) -> web.Response:
    metrics.deliveries_rejected.labels(reason=str(status)).inc()
    return web.json_response({"error": reason}, status=status)


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

    async def handle(self, request: web.Request) -> web.Response:
        metrics = self.metrics
        metrics.deliveries_received.inc()
        self.pressure.mark()
        if not self.secret:
            return _reject(503, "the App is not configured: no webhook secret", metrics)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _reject(413, "payload larger than 25 MiB", metrics)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _reject(413, "payload larger than 25 MiB", metrics)
        if len(body) > MAX_BODY:
            return _reject(413, "payload larger than 25 MiB", metrics)

        signature = request.headers.get("X-Hub-Signature-256")
        if not signature:
            return _reject(401, "missing X-Hub-Signature-256", metrics)
        if not signature.startswith("sha256="):
            return _reject(401, "X-Hub-Signature-256 must be sha256=<hex>", metrics)
        try:
            validate_event(body, signature=signature, secret=self.secret)
        except ValidationFailure:
            return _reject(401, "signature does not match", metrics)

        event = request.headers.get("X-GitHub-Event")
        delivery_id = request.headers.get("X-GitHub-Delivery")
        if not event or not delivery_id:
            return _reject(400, "missing X-GitHub-Event or X-GitHub-Delivery", metrics)
        if len(delivery_id) > 200:
            return _reject(400, "X-GitHub-Delivery is too long", metrics)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _reject(
                400, "body is not JSON (set the webhook content type to application/json)", metrics
            )
        if not isinstance(data, dict):
            return _reject(400, "body is not a JSON object", metrics)

        if event == "ping":
            return web.json_response({"delivery": delivery_id, "status": "pong"}, status=200)

        installation = data.get("installation")
        installation_id = installation.get("id") if isinstance(installation, dict) else None
        action = data.get("action")
        delivery = IncomingDelivery(
            id=delivery_id,
            event=event,
            action=action if isinstance(action, str) else None,
            installation_id=installation_id if isinstance(installation_id, int) else None,
            body=body,
            received_at=time.time(),
        )
        with delivery_context(delivery_id):
            try:
                new = await self.store.record(delivery)
            except Exception:
                log.exception("could not store delivery")
                metrics.deliveries_rejected.labels(reason="500").inc()
                return web.json_response({"error": "could not store the delivery; retry"}, status=500)
            if not new:
                metrics.deliveries_duplicate.inc()
                log.info("duplicate delivery ignored", extra={"event": event})
                return web.json_response({"delivery": delivery_id, "status": "duplicate"}, status=202)
            metrics.deliveries_stored.inc()
            self.on_stored(delivery)
        return web.json_response({"delivery": delivery_id, "status": "queued"}, status=202)
