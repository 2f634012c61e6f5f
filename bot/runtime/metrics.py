"""Prometheus metrics, served as text at `GET /metrics`. One registry per app instance (tests run several).

Gauges that are counts of what the store holds (jobs queued per kind, agent runs per status) are computed at
scrape time by the hooks registered with `on_scrape`; `refresh()` runs them before `/metrics` renders.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

#: the reconciler task that fetches back missed deliveries (bot/intake/redelivery.py)
REDELIVER_TASK = "deliveries.redeliver"


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
            "Time from a delivery's storing (GitHub sends no time) to the start of its first handling",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
            registry=r,
        )
        self.deliveries_redelivered = Counter(
            "codegen_bot_deliveries_redelivered", "Missed deliveries GitHub was asked to send again", registry=r
        )
        self.jobs_queued = Gauge("codegen_bot_jobs_queued", "Jobs queued (due or not), by kind", ["kind"], registry=r)
        self.job_failures = Counter(
            "codegen_bot_job_failures", "Job attempts that raised, by kind", ["kind"], registry=r
        )
        self.agent_runs = Gauge("codegen_bot_agent_runs", "Agent runs in the store, by status", ["status"], registry=r)
        self.reconciler_repairs = Counter(
            "codegen_bot_reconciler_repairs", "Repairs made by the reconciler, by task", ["task"], registry=r
        )
        self.validation_stage_seconds = Histogram(
            "codegen_bot_validation_stage_seconds", "Time a validation stage took, by stage and outcome",
            ["stage", "outcome"], buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600), registry=r,
        )
        self.retention_removed = Counter("codegen_bot_retention_removed", "Items the retention sweep removed, by kind",
                                         ["kind"], registry=r)
        self._scrape_hooks: dict[str, Callable[[], Awaitable[None]]] = {}

    def on_scrape(self, name: str, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` before each scrape (a hook of the same name is replaced: a rebuilt service re-registers)."""
        self._scrape_hooks[name] = hook

    async def refresh(self) -> None:
        for name, hook in list(self._scrape_hooks.items()):
            try:
                await hook()
            except Exception:
                logging.getLogger(__name__).exception("metrics hook %s failed", name)

    def count_repairs(self, task: str, repairs: int) -> None:
        """`Reconciler.on_repairs`: every task's series exists from its first pass, with 0 repairs too."""
        self.reconciler_repairs.labels(task=task).inc(repairs)
        if task == REDELIVER_TASK:  # its repairs are the deliveries GitHub was asked to send again
            self.deliveries_redelivered.inc(repairs)

    def count_removed(self, kind: str, removed: int) -> None:
        """`RetentionSweep.on_removed`: every kind's series exists from its first pass, with 0 removed too."""
        self.retention_removed.labels(kind=kind).inc(removed)

    def render(self) -> bytes:
        return generate_latest(self.registry)
