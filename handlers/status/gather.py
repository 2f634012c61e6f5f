"""What the status page shows, read from the store (and the artifacts folder) for repositories already
decided visible (visibility.py): every query names its repositories, so nothing else can come back.

Operators' data (deliveries, failed jobs, reconciler repairs) is read by `OperatorReader`: repairs are the
reconciler's counts per task since start-up (`/metrics`' `codegen_bot_reconciler_repairs`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from bot.dispatch.jobs import JobQueue
from bot.runtime.metrics import Metrics
from bot.runtime.redaction import redact
from bot.store.agent_runs import AgentRunStore
from bot.store.deliveries import DeliveryStore, DeliverySummary
from bot.store.pull_requests import PullRequestStore
from bot.store.validations import ValidationStore
from handlers.status.views import (
    MergeView,
    RunView,
    ValidationView,
    merge_views,
    run_view,
    validation_view,
    when,
)
from validators.web_eval.artifacts import ArtifactStore

RECENT = 30


@dataclass(frozen=True)
class RepoStatus:
    repo: str
    validations: list[ValidationView]
    runs: list[RunView]
    merging: list[MergeView]
    held: list[ValidationView]


@dataclass(frozen=True)
class Overview:
    repos: tuple[str, ...]
    validations: list[ValidationView]
    held: list[ValidationView]


class StatusReader:
    def __init__(
        self, *, validations: ValidationStore, agent_runs: AgentRunStore, prs: PullRequestStore,
        artifacts: ArtifactStore, github_url: str,
    ) -> None:
        self.validations = validations
        self.agent_runs = agent_runs
        self.prs = prs
        self.artifacts = artifacts
        self.github_url = github_url

    async def overview(self, visible: tuple[str, ...]) -> Overview:
        repos = list(visible)
        recent = await self.validations.recent(repos, RECENT)
        held = await self.validations.recent(repos, RECENT, state="held")
        return Overview(visible, [self._view(r) for r in recent], [self._view(r) for r in held])

    async def repo(self, repo: str, visible: tuple[str, ...]) -> RepoStatus:
        recent = await self.validations.recent([repo], RECENT)
        held = await self.validations.recent([repo], RECENT, state="held")
        runs = await self.agent_runs.recent([repo], RECENT)
        merging = merge_views(await self.prs.merging(repo), repo, self.github_url)
        return RepoStatus(repo, [self._view(r) for r in recent], [run_view(r, self.github_url, visible) for r in runs],
                          merging, [self._view(r) for r in held])

    async def validation(self, repo: str, validation_id: str) -> ValidationView | None:
        """One validation of `repo` (None when there is none, or it is another repository's)."""
        record = await self.validations.get(validation_id)
        if record is None or record.repo.lower() != repo.lower():
            return None
        return self._view(record)

    async def artifact_links(self, validation_id: str) -> list[tuple[str, str]]:
        """(name, signed link) of each screenshot and trace of a validation's web evaluation."""
        if self.artifacts.path_for(validation_id, "index") is None:  # not an id that names a folder
            return []
        folder = self.artifacts.root / validation_id

        def names() -> list[str]:
            return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

        return [(name, self.artifacts.signed_path(validation_id, name)) for name in await asyncio.to_thread(names)
                if self.artifacts.path_for(validation_id, name) is not None]

    def _view(self, record: Any) -> ValidationView:
        return validation_view(record, self.github_url)


@dataclass(frozen=True)
class FailedJob:
    id: int
    kind: str
    attempts: int
    failed_at: str
    error: str
    payload: str


@dataclass(frozen=True)
class OperatorStatus:
    deliveries: list[DeliverySummary]
    failed_deliveries: list[DeliverySummary]
    failed_jobs: list[FailedJob]
    repairs: list[tuple[str, int]]


class OperatorReader:
    def __init__(self, *, deliveries: DeliveryStore, jobs: JobQueue, metrics: Metrics) -> None:
        self.deliveries = deliveries
        self.jobs = jobs
        self.metrics = metrics

    async def page(self) -> OperatorStatus:
        failed = [FailedJob(j["id"], j["kind"], j["attempts"], when(j["updated_at"]), redact(j["error"] or ""),
                            redact(json.dumps(json.loads(j["payload"] or "{}"), sort_keys=True)[:300]))
                  for j in await self.jobs.failed(50)]
        return OperatorStatus(await self.deliveries.recent(50), await self.deliveries.recent(50, state="failed"),
                              failed, self.repairs())

    def repairs(self) -> list[tuple[str, int]]:
        """Repairs per reconciler task since start-up."""
        counts = []
        for metric in self.metrics.reconciler_repairs.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts.append((sample.labels.get("task", "?"), int(sample.value)))
        return sorted(counts)

    async def replay_job(self, job_id: int) -> bool:
        return await self.jobs.requeue_failed(job_id)

    async def replay_delivery(self, delivery_id: str) -> bool:
        return await self.deliveries.replay(delivery_id)
