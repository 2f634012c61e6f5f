"""Fetching back missed webhooks: ask GitHub to redeliver the deliveries that never reached the store.

GitHub does not redeliver a delivery that failed (the bot was down, answered 503, or took too long). A
reconciler task (`Redelivery.run_once`, at start-up and every `RECONCILE_MINUTES`) does what GitHub's
recommended script does (https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries):
1. list the App webhook's recent delivery attempts, newest first, with the App's JWT
   (`GET /app/hook/deliveries`, cursor-paginated through the `Link` header; https://docs.github.com/en/rest/apps/webhooks),
   stopping at the newest attempt id the previous pass examined (the cursor, in the store);
2. per guid (the event's id, sent as `X-GitHub-Delivery`, which the store keeps as the delivery id): skip it
   when any attempt seen is OK, when the store holds the guid, or when it is a `ping`;
3. ask GitHub to redeliver the newest failed attempt of each remaining guid
   (`POST /app/hook/deliveries/{id}/attempts`, 202), unless it is older than 3 days: GitHub only redelivers
   the past 3 days (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks),
   so those are logged (once: the cursor passes them) and skipped.

A redelivery keeps the guid (same page), so the bot stores and handles it once. One that fails again shows
up as a new attempt (a new id, past the cursor) and is asked for again, at most `MAX_ASKS` times per guid.

Decisions:
- The list is read unfiltered (not `status=failure`): that filter is by `status_code` 400-599, and an
  attempt that could not connect or timed out has no such code; "not OK" is the rule GitHub's page gives.
- Paging also stops at the first attempt older than the window: ids grow with time, so every later one is
  older still and cannot be redelivered (this bounds the first pass on a busy App).
- The cursor moves only after a pass asked for everything it chose; a pass that fails (GitHub down, a rate
  limit) is examined again next time, and the ask counts keep that bounded. A refusal (4xx) of one
  redelivery is logged and that guid skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gidgethub import BadRequest, RateLimitExceeded
from gidgethub.abc import GitHubAPI

from bot.store.deliveries import DeliveryStore
from bot.store.redeliveries import RedeliveryStore

log = logging.getLogger(__name__)

#: GitHub redelivers deliveries of the past 3 days
WINDOW_SECONDS = 3 * 24 * 3600.0
#: asks per guid, the first one included
MAX_ASKS = 3
#: the list's largest page
PER_PAGE = 100
#: events that carry nothing to handle
IGNORED_EVENTS = frozenset({"ping"})


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt of the App's webhook (GitHub's `hook-delivery-item`)."""

    id: int
    guid: str
    delivered_at: float
    status: str
    event: str
    action: str | None = None
    redelivery: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "OK"


def parse_attempt(item: Mapping[str, Any]) -> Attempt:
    stamp = datetime.fromisoformat(str(item["delivered_at"]).replace("Z", "+00:00")).timestamp()
    return Attempt(
        id=int(item["id"]), guid=str(item["guid"]), delivered_at=stamp, status=str(item.get("status") or ""),
        event=str(item.get("event") or ""), action=item.get("action"), redelivery=bool(item.get("redelivery")),
    )


@dataclass(frozen=True)
class Choice:
    """What one pass does with the attempts it examined."""

    ask: list[Attempt] = field(default_factory=list)  # the newest failed attempt of each guid to fetch back
    too_old: list[Attempt] = field(default_factory=list)  # failed, missed, past GitHub's window
    given_up: list[Attempt] = field(default_factory=list)  # failed, missed, asked for MAX_ASKS times already


def choose(
    attempts: Iterable[Attempt], held: set[str], asks: Mapping[str, int], now: float, *,
    window: float = WINDOW_SECONDS, max_asks: int = MAX_ASKS,
) -> Choice:
    """Which guids to ask GitHub to redeliver (pure): per guid, nothing when an attempt succeeded, the store
    holds it or it is ignored; else its newest failed attempt, unless too old or asked for too often."""
    by_guid: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_guid.setdefault(attempt.guid, []).append(attempt)
    choice = Choice()
    for guid, tries in by_guid.items():
        if guid in held or any(t.ok for t in tries) or tries[0].event in IGNORED_EVENTS:
            continue
        newest = max(tries, key=lambda t: t.id)
        if newest.delivered_at < now - window:
            choice.too_old.append(newest)
        elif asks.get(guid, 0) >= max_asks:
            choice.given_up.append(newest)
        else:
            choice.ask.append(newest)
    choice.ask.sort(key=lambda t: t.id)  # oldest first: events are handled in the order they happened
    return choice


async def examine(
    items: AsyncIterator[Mapping[str, Any]], cursor: int | None, now: float, window: float = WINDOW_SECONDS
) -> list[Attempt]:
    """The attempts newer than `cursor` from a newest-first listing; stops reading (paging) at the cursor or
    at the first attempt older than the window (which is kept, to be reported)."""
    seen: list[Attempt] = []
    async for item in items:
        attempt = parse_attempt(item)
        if cursor is not None and attempt.id <= cursor:
            break
        seen.append(attempt)
        if attempt.delivered_at < now - window:
            break
    return seen


class Redelivery:
    """The reconciler task `deliveries.redeliver` (composed in entrypoints/app.py)."""

    def __init__(
        self, app_client: GitHubAPI, deliveries: DeliveryStore, store: RedeliveryStore, *,
        clock: Callable[[], float] = time.time, window: float = WINDOW_SECONDS, max_asks: int = MAX_ASKS,
    ) -> None:
        self.gh = app_client  # authenticated as the App (JWT): these endpoints refuse installation tokens
        self.deliveries = deliveries
        self.store = store
        self._clock = clock
        self.window = window
        self.max_asks = max_asks

    async def run_once(self) -> int:
        """One pass; returns how many deliveries GitHub was asked to redeliver."""
        now = self._clock()
        cursor = await self.store.cursor()
        listing = self.gh.getiter("/app/hook/deliveries{?per_page}", {"per_page": PER_PAGE})
        seen = await examine(listing, cursor, now, self.window)
        if not seen:
            return 0
        failed = {a.guid for a in seen if not a.ok}
        held = await self.deliveries.held(failed)
        choice = choose(seen, held, await self.store.asks(failed), now, window=self.window, max_asks=self.max_asks)
        self._report(choice)
        asked = 0
        for attempt in choice.ask:
            asked += await self._ask(attempt)
        await self.store.advance(max(a.id for a in seen))
        await self.store.forget_before(now - 2 * self.window)
        return asked

    async def _ask(self, attempt: Attempt) -> int:
        try:
            await self.gh.post("/app/hook/deliveries/{delivery_id}/attempts",
                               {"delivery_id": str(attempt.id)}, data=b"")
        except RateLimitExceeded:
            raise
        except BadRequest as refused:  # e.g. 422 past GitHub's window by its own clock: nothing to retry
            log.warning("GitHub refused to redeliver %s (%s %s): %s", attempt.guid, attempt.event,
                        attempt.action or "", refused, extra={"delivery_id": attempt.guid})
            return 0
        count = await self.store.asked(attempt.guid)
        log.info("asked GitHub to redeliver a missed delivery (ask %d of %d)", count, self.max_asks,
                 extra={"delivery_id": attempt.guid, "event": attempt.event, "attempt_id": attempt.id})
        return 1

    def _report(self, choice: Choice) -> None:
        for attempt in choice.too_old:
            log.warning("missed delivery %s (%s %s, status %r) is older than GitHub's 3-day redelivery window;"
                        " it cannot be fetched back", attempt.guid, attempt.event, attempt.action or "",
                        attempt.status, extra={"delivery_id": attempt.guid})
        for attempt in choice.given_up:
            log.warning("missed delivery %s (%s) still fails after %d redeliveries; not asking again",
                        attempt.guid, attempt.event, self.max_asks, extra={"delivery_id": attempt.guid})
