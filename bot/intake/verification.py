"""Is this request a delivery from GitHub? A pure decision over the secret, the headers and the raw body.

Order of checks (the first that fails decides, and nothing is stored):

1. no webhook secret configured → 503 (the App is not set up; nothing can be verified);
2. body larger than GitHub's 25 MiB cap → 413;
3. `X-Hub-Signature-256` missing → 401; wrong → 401 (HMAC-SHA256 over the raw body, constant-time compare,
   before anything parses the body);
4. `X-GitHub-Event` / `X-GitHub-Delivery` missing, or a body that is not a JSON object → 400;
5. `ping` → answered 200, not stored;
6. otherwise an `IncomingDelivery` to commit to the store.

Used by the in-process intake (bot/intake/acceptance.py) and by the intake processes (bot/intake/process.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from gidgethub import ValidationFailure
from gidgethub.sansio import validate_event

from bot.store.deliveries import IncomingDelivery
from bot.store.delivery_keys import derive_keys

#: GitHub caps webhook payloads at 25 MB
MAX_BODY = 25 * 1024 * 1024
MAX_DELIVERY_ID = 200


@dataclass(frozen=True)
class Rejection:
    status: int
    reason: str


@dataclass(frozen=True)
class Ping:
    delivery_id: str


NOT_CONFIGURED = Rejection(503, "the App is not configured: no webhook secret")
TOO_LARGE = Rejection(413, "payload larger than 25 MiB")


def check_delivery(
    secret: str | None, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Rejection | Ping | IncomingDelivery:
    if not secret:
        return NOT_CONFIGURED
    if len(body) > MAX_BODY:
        return TOO_LARGE
    signature = headers.get("X-Hub-Signature-256")
    if not signature:
        return Rejection(401, "missing X-Hub-Signature-256")
    if not signature.startswith("sha256="):
        return Rejection(401, "X-Hub-Signature-256 must be sha256=<hex>")
    try:
        validate_event(body, signature=signature, secret=secret)
    except ValidationFailure:
        return Rejection(401, "signature does not match")

    event = headers.get("X-GitHub-Event")
    delivery_id = headers.get("X-GitHub-Delivery")
    if not event or not delivery_id:
        return Rejection(400, "missing X-GitHub-Event or X-GitHub-Delivery")
    if len(delivery_id) > MAX_DELIVERY_ID:
        return Rejection(400, "X-GitHub-Delivery is too long")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return Rejection(400, "body is not JSON (set the webhook content type to application/json)")
    if not isinstance(data, dict):
        return Rejection(400, "body is not a JSON object")
    if event == "ping":
        return Ping(delivery_id)

    installation = data.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    action = data.get("action")
    return IncomingDelivery(
        id=delivery_id,
        event=event,
        action=action if isinstance(action, str) else None,
        installation_id=installation_id if isinstance(installation_id, int) else None,
        body=body,
        received_at=time.time() if now is None else now,
        keys=derive_keys(body, data),
    )
