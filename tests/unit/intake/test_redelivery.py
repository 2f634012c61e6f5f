"""Fetching back missed webhooks, the pure parts: which deliveries to ask for, and where paging stops."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from bot.intake.redelivery import MAX_ASKS, WINDOW_SECONDS, Attempt, choose, examine, parse_attempt
from bot.store.db import Database
from bot.store.deliveries import DeliveryStore, IncomingDelivery
from bot.store.redeliveries import RedeliveryStore

NOW = 1_800_000_000.0
HOUR = 3600.0


def attempt(id: int, guid: str, status: str = "Invalid HTTP Response: 503", *, ago: float = HOUR,
            event: str = "issue_comment") -> Attempt:
    return Attempt(id=id, guid=guid, delivered_at=NOW - ago, status=status, event=event, action="created")


def test_a_failed_delivery_the_store_lacks_is_asked_for_by_its_newest_attempt() -> None:
    tries = [attempt(12, "a", "failed to connect", ago=60), attempt(10, "a", ago=2 * HOUR), attempt(11, "b")]
    choice = choose(tries, held=set(), asks={}, now=NOW)
    assert [(t.id, t.guid) for t in choice.ask] == [(11, "b"), (12, "a")]  # oldest first
    assert choice.too_old == [] and choice.given_up == []


def test_nothing_is_asked_for_an_ok_attempt_a_held_guid_or_a_ping() -> None:
    tries = [
        attempt(20, "ok", "OK"),
        attempt(21, "fixed-by-hand"), attempt(25, "fixed-by-hand", "OK"),  # a later attempt succeeded
        attempt(22, "late-ok", "OK"), attempt(26, "late-ok"),  # an earlier attempt succeeded
        attempt(23, "stored"),  # the bot stored it, answered too late
        attempt(24, "ping-guid", event="ping"),
    ]
    assert choose(tries, held={"stored"}, asks={}, now=NOW).ask == []


def test_past_three_days_a_delivery_is_only_reported() -> None:
    old = attempt(30, "old", ago=WINDOW_SECONDS + 1)
    fresh_retry = [attempt(31, "retried", ago=WINDOW_SECONDS + 60), attempt(32, "retried", ago=HOUR)]
    choice = choose([old, *fresh_retry], held=set(), asks={}, now=NOW)
    assert choice.too_old == [old]
    assert [t.id for t in choice.ask] == [32]  # its newest attempt is recent enough


def test_a_guid_is_asked_for_at_most_max_asks_times() -> None:
    tries = [attempt(40, "again"), attempt(41, "once-more")]
    choice = choose(tries, held=set(), asks={"again": MAX_ASKS, "once-more": MAX_ASKS - 1}, now=NOW)
    assert [t.guid for t in choice.ask] == ["once-more"] and [t.guid for t in choice.given_up] == ["again"]


def item(id: int, guid: str, delivered_at: str = "2027-01-15T08:00:00Z", status: str = "OK") -> dict[str, Any]:
    return {"id": id, "guid": guid, "delivered_at": delivered_at, "redelivery": False, "duration": 0.1,
            "status": status, "status_code": 200, "event": "issues", "action": "opened", "installation_id": 1,
            "repository_id": 2, "throttled_at": None}


def test_parse_attempt_reads_githubs_item() -> None:
    parsed = parse_attempt(item(7, "g", "2027-01-15T08:00:00Z", "Invalid HTTP Response: 502"))
    assert (parsed.id, parsed.guid, parsed.ok, parsed.event) == (7, "g", False, "issues")
    assert parsed.delivered_at == NOW  # 2027-01-15T08:00:00Z


class Listing:
    """A newest-first listing that counts what was read (each read past a page boundary is a request)."""

    def __init__(self, items: list[Mapping[str, Any]]) -> None:
        self.items = items
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]:
        for entry in self.items:
            self.read += 1
            yield entry


async def test_examining_stops_at_the_cursor_without_reading_further() -> None:
    recent = "2027-01-15T08:00:00Z"
    listing = Listing([item(i, f"g{i}", recent) for i in range(110, 90, -1)])
    seen = await examine(listing.__aiter__(), cursor=100, now=NOW)
    assert [a.id for a in seen] == list(range(110, 100, -1))
    assert listing.read == 11  # the cursor's own attempt, and nothing after it


async def test_examining_stops_at_the_first_attempt_past_the_window() -> None:
    listing = Listing([item(5, "new", "2027-01-15T08:00:00Z"), item(4, "old", "2027-01-10T08:00:00Z"),
                       item(3, "older", "2027-01-09T08:00:00Z")])
    seen = await examine(listing.__aiter__(), cursor=None, now=NOW)
    assert [a.guid for a in seen] == ["new", "old"] and listing.read == 2


async def test_the_stores_remember_the_cursor_the_asks_and_which_ids_they_hold(database: Database) -> None:
    store, deliveries = RedeliveryStore(database, clock=lambda: NOW), DeliveryStore(database)
    assert await store.cursor() is None
    await store.advance(50)
    await store.advance(40)  # never backwards
    await store.advance(60)
    assert await store.cursor() == 60
    assert [await store.asked("g") for _ in range(2)] == [1, 2]
    assert await store.asks(["g", "h"]) == {"g": 2}
    assert await store.forget_before(NOW - 1) == 0 and await store.forget_before(NOW + 1) == 1
    await deliveries.record(IncomingDelivery("held-1", "issues", "opened", 1, b"{}", NOW))
    assert await deliveries.held(["held-1", "other"]) == {"held-1"}
