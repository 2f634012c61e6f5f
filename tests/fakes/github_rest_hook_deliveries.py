"""REST handlers of the fake GitHub for the App webhook's deliveries: list, get one, redeliver.

GitHub's "REST API endpoints for GitHub App webhooks" (https://docs.github.com/en/rest/apps/webhooks), with
the App's JWT only (github_access.py refuses installation tokens, like GitHub). The log itself and the
deliveries to the bot are in github_hook_state.py.

Decisions:
- The list is newest first and cursor-paginated like GitHub's: `per_page` (default 30, at most 100) and
  `cursor`, with a `Link` header whose `rel="next"` URL carries the next `cursor=` (GitHub documents the
  cursor as the delivery the page starts from; here it is `v1_<id>` of that delivery, opaque to clients).
  A cursor the fake did not make is 400 Bad Request.
- `status=success` / `status=failure` filter by status code 200-399 / 400-599, as the parameter documents
  (so an attempt that got no answer, code 0, is in neither).
- Redeliver answers 202 and makes the delivery again in the background, as a new attempt with the same guid
  (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks). An
  attempt made more than 3 days ago is refused (GitHub only redelivers the past 3 days; the description
  documents 400 and 422 for this operation: 422 with a validation error here); an unknown id is 404.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from tests.fakes.github_bodies import iso
from tests.fakes.github_hook_state import REDELIVERY_WINDOW, AppHook, HookDelivery
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, invalid, not_found

LIST = "/app/hook/deliveries"
CURSOR = re.compile(r"v1_(\d+)")


class HookDeliveryOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "apps/list-webhook-deliveries": self.list_deliveries,
            "apps/get-webhook-delivery": self.get_delivery,
            "apps/redeliver-webhook-delivery": self.redeliver,
        }

    def _hook(self, call: Call) -> AppHook:
        assert call.creds.app is not None
        return self.world.hooks.of(call.creds.app.id)

    def _delivery(self, call: Call) -> HookDelivery:
        delivery = self._hook(call).find(int(call.params["delivery_id"]))
        if delivery is None:
            raise not_found()
        return delivery

    async def list_deliveries(self, call: Call) -> Reply:
        items = sorted(self._hook(call).deliveries, key=lambda d: d.id, reverse=True)
        wanted = call.query.get("status")
        if wanted is not None:
            low, high = (200, 399) if wanted == "success" else (400, 599)
            items = [d for d in items if low <= d.status_code <= high]
        cursor = call.query.get("cursor")
        if cursor:
            match = CURSOR.fullmatch(cursor)
            if match is None:
                raise HttpError(400, "Invalid cursor")
            items = [d for d in items if d.id <= int(match.group(1))]
        per_page = max(1, min(100, int(call.query.get("per_page", 30))))
        page, rest = items[:per_page], items[per_page:]
        headers = {}
        if rest:
            query = dict(call.query, per_page=str(per_page), cursor=f"v1_{rest[0].id}")
            headers["Link"] = f'<{self._api_url()}{LIST}?{urlencode(query)}>; rel="next"'
        return Reply(200, [self._item(d) for d in page], headers=headers)

    async def get_delivery(self, call: Call) -> Reply:
        delivery = self._delivery(call)
        body = self._item(delivery)
        body.update(
            url=delivery.url,
            request={"headers": dict(delivery.request_headers) or None, "payload": delivery.payload},
            response={"headers": dict(delivery.response_headers) or None, "payload": delivery.response_body},
        )
        return Reply(200, body)

    async def redeliver(self, call: Call) -> Reply:
        assert call.creds.app is not None
        delivery = self._delivery(call)
        if self._now() - delivery.delivered_at > REDELIVERY_WINDOW:
            raise invalid("Deliveries older than 3 days cannot be redelivered", "HookDelivery", "delivered_at")
        self.world.hooks.redeliver(call.creds.app.id, delivery, self.world.ids.next_id, self._now)
        return Reply(202, {})

    @staticmethod
    def _item(delivery: HookDelivery) -> dict[str, Any]:
        """GitHub's `hook-delivery-item`."""
        return {
            "id": delivery.id,
            "guid": delivery.guid,
            "delivered_at": iso(delivery.delivered_at),
            "redelivery": delivery.redelivery,
            "duration": delivery.duration,
            "status": delivery.status,
            "status_code": delivery.status_code,
            "event": delivery.event,
            "action": delivery.action,
            "installation_id": delivery.installation_id,
            "repository_id": delivery.repository_id,
            "throttled_at": None,
        }
