"""Build signed webhook deliveries from the recorded payloads in tests/fixtures/github/webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

WEBHOOKS = Path(__file__).resolve().parent.parent / "fixtures" / "github" / "webhooks"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(name: str) -> dict[str, Any]:
    """`name` like "pull_request/opened" or "pull_request/opened.with-organization"."""
    path = WEBHOOKS / (name if name.endswith(".json") else f"{name}.payload.json")
    if not path.exists():
        path = WEBHOOKS / f"{name}.json"  # e.g. "ping/payload"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def all_payload_files() -> list[Path]:
    return sorted(WEBHOOKS.glob("*/*.json"))


def headers_for(event: str, body: bytes, secret: str, delivery_id: str | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "User-Agent": "GitHub-Hookshot/test",
    }
