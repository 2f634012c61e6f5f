"""The digest and ordering key of a delivery are derived where it is verified (an intake process), travel over
the link with the packed body, and are what the store keeps: the core neither unpacks nor parses the body."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket

from bot.intake.link import CoreLink, IntakeLink
from bot.intake.verification import check_delivery
from bot.store.db import Database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.delivery_keys import body_ordering_key

SECRET = "s3cret"


def signed(body: bytes, delivery_id: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery_id}


BODY = json.dumps({"action": "opened", "number": 7, "pull_request": {"number": 7},
                   "repository": {"full_name": "octo-org/app"}, "installation": {"id": 3}}).encode()


def test_verification_derives_the_digest_and_the_ordering_key() -> None:
    delivery = check_delivery(SECRET, signed(BODY, "d-1"), BODY)
    assert isinstance(delivery, IncomingDelivery) and delivery.keys is not None
    assert delivery.keys.digest == hashlib.sha256(BODY).digest()
    assert delivery.keys.order_key == "octo-org/app#7" == body_ordering_key(BODY)


async def test_the_core_stores_what_the_link_carried_without_the_raw_body(database: Database) -> None:
    store = DeliveryStore(database, order_key=body_ordering_key)
    received: list[IncomingDelivery] = []

    async def accept(delivery: IncomingDelivery) -> str:
        received.append(delivery)
        return "queued" if await store.record(delivery) else "duplicate"

    core_reader, intake_writer, intake_reader, core_writer = await pipe_pair()
    core = IntakeLink(core_reader, core_writer, accept, lambda status: None)
    intake = CoreLink(intake_reader, intake_writer)
    tasks = [asyncio.create_task(core.run()), asyncio.create_task(intake.run())]
    try:
        first = check_delivery(SECRET, signed(BODY, "d-1"), BODY)
        replay = check_delivery(SECRET, signed(BODY, "d-2"), BODY)  # the same signed body under another id
        assert isinstance(first, IncomingDelivery) and isinstance(replay, IncomingDelivery)
        assert await intake.store(first) == "queued"
        assert await intake.store(replay) == "duplicate"
    finally:
        intake_writer.close()
        core_writer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert [d.body for d in received] == [b"", b""]  # nothing unpacked in the core
    row = await database.read(lambda c: c.execute(
        "SELECT order_key, body_digest FROM deliveries WHERE id = 'd-1'").fetchone())
    assert row[0] == "octo-org/app#7" and bytes(row[1]) == hashlib.sha256(BODY).digest()
    stored = await store.load("d-1")
    assert stored is not None and stored.body == BODY  # the packed body the intake process sent


async def pipe_pair() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamWriter]:
    """Two connected stream pairs over a socketpair: (core's reader, intake's writer, intake's reader, core's
    writer)."""
    left, right = socket.socketpair()
    core_reader, core_writer = await asyncio.open_connection(sock=left)
    intake_reader, intake_writer = await asyncio.open_connection(sock=right)
    return core_reader, intake_writer, intake_reader, core_writer
