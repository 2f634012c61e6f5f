"""The fake GitHub's App webhook: its delivery log, and the deliveries it makes to the bot.

GitHub keeps a log of every delivery attempt of an App's webhook (REST "List deliveries for an app webhook",
https://docs.github.com/en/rest/apps/webhooks). A test records the deliveries GitHub "made"
(`FakeGitHub.log_delivery`), in the order they happened; a redelivery (`POST .../attempts`, handled in
github_rest_hook_deliveries.py) really POSTs the payload to the target the test gave (`webhook_target`),
like GitHub does, and appends the new attempt once the bot has answered.

Decisions (GitHub's documented behaviour, made checkable):
- An attempt's `status` is "OK" for a 2xx answer, "Invalid HTTP Response: <code>" for any other answer,
  "failed to connect" / "timed out" (status code 0) when there was none; GitHub counts an answer slower than
  10 s as failed (https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).
- A redelivery is a new attempt: a new id, the same guid (`X-GitHub-Delivery`), `redelivery: true`
  (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
- Headers as GitHub sends them: `X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256` (HMAC-SHA256
  of the body with the webhook secret), `X-GitHub-Hook-ID`, `X-GitHub-Hook-Installation-Target-*`, a
  `GitHub-Hookshot/…` user agent (https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers).
- Ids come from the fake's one counter, so a later attempt always has a larger id, as on GitHub.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from tests.fakes.github_state import App, World

__all__ = ["AppHook", "HookDeliveries", "HookDelivery", "HookDeliverySetup", "status_text"]

#: GitHub gives up on an answer after 10 s
DELIVERY_TIMEOUT = 10.0
#: GitHub redelivers the past 3 days only
REDELIVERY_WINDOW = 3 * 24 * 3600.0
HOOK_ID = 1


def status_text(status_code: int, failure: str | None = None) -> str:
    """GitHub's `status` of an attempt: "OK" for 2xx; `failure` when there was no answer (code 0)."""
    if 200 <= status_code < 300:
        return "OK"
    if status_code == 0:
        return failure or "failed to connect"
    return f"Invalid HTTP Response: {status_code}"


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class HookDelivery:
    """One delivery attempt of the App's webhook."""

    id: int
    guid: str
    event: str
    action: str | None
    payload: dict[str, Any]
    status_code: int
    status: str
    delivered_at: float
    redelivery: bool = False
    duration: float = 0.01
    installation_id: int | None = None
    repository_id: int | None = None
    url: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None


@dataclass
class AppHook:
    """An App's webhook: where it delivers, with which secret, and every attempt (oldest first)."""

    url: str | None = None
    secret: str | None = None
    deliveries: list[HookDelivery] = field(default_factory=list)

    def find(self, delivery_id: int) -> HookDelivery | None:
        return next((d for d in self.deliveries if d.id == delivery_id), None)


def _headers(app_id: int, original: HookDelivery, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/fake",
        "X-GitHub-Delivery": original.guid,
        "X-GitHub-Event": original.event,
        "X-GitHub-Hook-ID": str(HOOK_ID),
        "X-GitHub-Hook-Installation-Target-ID": str(app_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
    }
    if secret:
        headers["X-Hub-Signature-256"] = signature(body, secret)
    return headers


class HookDeliveries:
    """Every App's webhook (by app id), and the redeliveries in flight."""

    def __init__(self) -> None:
        self.apps: dict[int, AppHook] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def of(self, app_id: int) -> AppHook:
        return self.apps.setdefault(app_id, AppHook())

    def redeliver(self, app_id: int, original: HookDelivery, new_id: Callable[[], int],
                  clock: Callable[[], float]) -> None:
        """Deliver `original` again, after the 202 (GitHub queues it); the new attempt is logged when done."""
        task = asyncio.get_running_loop().create_task(self._deliver(app_id, original, new_id, clock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, app_id: int, original: HookDelivery, new_id: Callable[[], int],
                       clock: Callable[[], float]) -> None:
        hook = self.of(app_id)
        body = json.dumps(original.payload).encode()
        headers = _headers(app_id, original, body, hook.secret)
        started, code, failure, answer_headers, answer = time.monotonic(), 0, None, {}, None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            if hook.url is None:
                raise aiohttp.ClientConnectionError("the App has no webhook URL")
            timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
            async with self._session.post(hook.url, data=body, headers=headers, timeout=timeout) as resp:
                code, answer_headers, answer = resp.status, dict(resp.headers), await resp.text()
        except TimeoutError:
            failure = "timed out"
        except aiohttp.ClientError:
            failure = "failed to connect"
        hook.deliveries.append(HookDelivery(
            new_id(), original.guid, original.event, original.action, original.payload, code,
            status_text(code, failure), clock(), redelivery=True, duration=round(time.monotonic() - started, 3),
            installation_id=original.installation_id, repository_id=original.repository_id, url=hook.url or "",
            request_headers=headers, response_headers=answer_headers, response_body=answer,
        ))

    async def settle(self, within: float = 30.0) -> None:
        """Wait until every redelivery asked for so far has been made (and logged)."""
        deadline = time.monotonic() + within
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(self._tasks)} redeliveries still in flight after {within}s")
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None


class HookDeliverySetup:
    """FakeGitHub's methods for the App webhook's delivery log (see github.py's public API)."""

    world: World
    app: App

    def webhook_target(self, url: str, secret: str | None, *, app_id: int | None = None) -> None:
        """Where the App's webhook delivers (its URL) and the secret it signs with."""
        hook = self.world.hooks.of(app_id or self.app.id)
        hook.url, hook.secret = url, secret

    def log_delivery(
        self, guid: str, event: str, action: str | None, payload: dict[str, Any], status_code: int, *,
        delivered_at: float | None = None, redelivery: bool = False, failure: str | None = None,
        app_id: int | None = None,
    ) -> int:
        """Record a delivery attempt GitHub made (`status_code` 0: no answer, `failure` says why); its id."""
        installation = payload.get("installation") or {}
        repository = payload.get("repository") or {}
        hook = self.world.hooks.of(app_id or self.app.id)
        delivery = HookDelivery(
            self.world.ids.next_id(), guid, event, action, payload, status_code, status_text(status_code, failure),
            self.world.clock() if delivered_at is None else delivered_at, redelivery=redelivery,
            installation_id=installation.get("id"), repository_id=repository.get("id"), url=hook.url or "",
        )
        hook.deliveries.append(delivery)
        return delivery.id

    def hook_deliveries(self, *, app_id: int | None = None) -> list[HookDelivery]:
        """Every attempt of the App's webhook, oldest first."""
        return list(self.world.hooks.of(app_id or self.app.id).deliveries)

    async def settle_deliveries(self, within: float = 30.0) -> None:
        """Wait until the redeliveries asked for so far were made and logged."""
        await self.world.hooks.settle(within)
