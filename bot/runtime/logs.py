"""JSON logs, one object per line, carrying the delivery id of the work in progress.

Every record passes through `redact`, which replaces any registered secret (webhook secret, private key,
Codegen token, every installation token the bot obtains) with `[redacted]`, and masks anything shaped like
a GitHub token, so a secret cannot reach a log line even by mistake.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from typing import Any

import orjson

from bot.runtime.redaction import redact

delivery_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivery_id", default=None)
#: which attempt at handling the delivery in progress this is (1: the first; more after a crash or a retry)
delivery_attempt_var: contextvars.ContextVar[int] = contextvars.ContextVar("delivery_attempt", default=1)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextlib.contextmanager
def delivery_context(delivery_id: str | None, attempt: int = 1) -> Iterator[None]:
    """Log records inside carry `delivery_id` (the delivery being handled, or the one that caused a job)."""
    token = delivery_id_var.set(delivery_id)
    attempt_token = delivery_attempt_var.set(attempt)
    try:
        yield
    finally:
        delivery_attempt_var.reset(attempt_token)
        delivery_id_var.reset(token)


def delivery_attempt() -> int:
    """The attempt at handling the current delivery: above 1, an earlier attempt may have written to GitHub."""
    return delivery_attempt_var.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        delivery_id = getattr(record, "delivery_id", None) or delivery_id_var.get()
        if delivery_id:
            entry["delivery_id"] = delivery_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        text = orjson.dumps(entry, default=str).decode()
        return redact(text)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log is one line per request: too loud under webhook load
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
