"""What the store keeps beside a delivery's body, derived from it once, where it is verified: the ordering key
(which issue or pull request it concerns) and the digest the replay check compares.

An intake process (bot/intake/process.py) derives both while it has the parsed body, so the core process,
which commits every delivery, parses and unpacks none of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class DeliveryKeys:
    #: SHA-256 of the raw body (the replay check: one signed body under two ids)
    digest: bytes
    #: `ordering_key` of the body
    order_key: str | None


def derive_keys(body: bytes, data: dict[str, Any]) -> DeliveryKeys:
    """The keys of a verified delivery whose raw `body` parsed to `data`."""
    return DeliveryKeys(hashlib.sha256(body).digest(), ordering_key(data))


def ordering_key(data: dict[str, Any]) -> str | None:
    """Deliveries with the same key are handled in order: one repository's issue or pull request."""
    repo = data.get("repository")
    if not isinstance(repo, dict):
        return None
    number = None
    for field in ("issue", "pull_request"):
        sub = data.get(field)
        if isinstance(sub, dict) and isinstance(sub.get("number"), int):
            number = sub["number"]
            break
    if number is None and isinstance(data.get("number"), int):
        number = data["number"]
    if number is None:
        return None
    return f"{repo.get('full_name')}#{number}"


def body_ordering_key(body: bytes) -> str | None:
    """`ordering_key` of a delivery's raw JSON body (stored with it when several replicas share the store)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return ordering_key(data) if isinstance(data, dict) else None
