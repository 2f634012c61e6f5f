"""Prometheus metrics, served as text at `GET /metrics`. One registry per app instance (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries_received = Counter(
            "codegen_bot_deliveries_received", "Webhook requests received at /webhook", registry=r
        )
        self.deliveries_stored = Counter(
            "codegen_bot_deliveries_stored", "Verified deliveries committed to the store", registry=r
        )
        self.deliveries_rejected = Counter(
            "codegen_bot_deliveries_rejected",
            "Webhook requests refused, by HTTP status",
            ["reason"],
            registry=r,
        )
        self.deliveries_duplicate = Counter(
            "codegen_bot_deliveries_duplicate", "Redelivered ids answered without handling", registry=r
        )
        self.deliveries_handled = Counter(
            "codegen_bot_deliveries_handled",
            "Deliveries whose handling ended, by outcome",
            ["outcome"],
            registry=r,
        )
        self.handler_errors = Counter(
            "codegen_bot_handler_errors", "Handler callbacks that raised", ["handler"], registry=r
        )
        self.queue_depth = Gauge(
            "codegen_bot_queue_depth", "Deliveries stored and not yet handled", registry=r
        )
        self.handler_latency = Histogram(
            "codegen_bot_handler_latency_seconds",
            "Time to run one delivery's handlers",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.delivery_lag = Histogram(
            "codegen_bot_delivery_lag_seconds",
            "Time from receipt to the end of handling",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
