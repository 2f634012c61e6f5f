"""Delivery bodies are stored LZ4-packed; bodies stored before packing existed read back unchanged."""

from __future__ import annotations

import json

from bot.store.delivery_body import MAGIC, pack, unpack
from tests.support.webhooks import payload


def test_packed_bodies_are_smaller_and_read_back_exactly() -> None:
    raw = json.dumps(payload("pull_request/opened")).encode()
    packed = pack(raw)
    assert packed.startswith(MAGIC) and len(packed) * 3 < len(raw)
    assert unpack(packed) == raw


def test_unpacked_and_empty_bodies_pass_through() -> None:
    legacy = b'{"action": "opened"}'
    assert unpack(legacy) == legacy
    assert pack(b"") == b"" and unpack(b"") == b""
