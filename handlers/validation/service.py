"""The life of a pull request's validation on GitHub: check runs queued at once, a durable job, a report.

- `request()` is called by every trigger (PR opened/synchronize/reopened/ready_for_review, check suite
  requested/rerequested, check run rerequested or its Re-run button, `/codegen validate`, `/retest`).
  It cancels the PR's older validation (its container stops, its check runs end `cancelled`), decides with
  the pure gate (handlers/validation/gate.py), and creates one check run per stage: `queued` for a
  run, or concluded `action_required` with an **Approve and run** button for held (untrusted) code.
- The `validation` job (at most `VALIDATION_CONCURRENCY` at once per Docker engine, default 2; the engines
  are `DOCKER_HOSTS`, validators/engines.py, each validation on the least loaded one) fetches the exact head SHA
  from the base repository (its `refs/pull/N/head`, forks' PRs included) into that repository's bare cache
  with the installation token as an HTTP header, copies it into a container as a tar, runs the pipeline
  (validators/pipeline.py) and reports each stage to its check run. The report is kept in the store. A
  restart re-queues a validation that was running, so no check run is left `in_progress`.
- Exactly once (issue 14): the check-run ids and the job are stored in one transaction; a crash before it
  is repaired when the event is handled again or by the reconciler, adopting the check runs GitHub has
  (handlers/validation/reconcile.py). A retried job does not report a concluded stage again
  (handlers/validation/runner.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from gidgethub.abc import GitHubAPI

from bot.dispatch.jobs import Job, JobQueue, Retry
from bot.github.client import GitHubClients
from bot.github.permissions import PermissionCache
from bot.runtime.metrics import Metrics
from bot.store.validations import JOB_KIND, ValidationRecord, ValidationStore
from config.loader import RepoConfigLoader
from config.schema import RepoConfig
from config.secrets import OperatorSecrets
from handlers.validation import check_run_set, reconcile, runner
from handlers.validation.check_run_set import APPROVE, stages_for
from handlers.validation.gate import Decision, Hold, PullState, Run, decide_validation
from handlers.validation.limits import SnapshotCaps
from handlers.validation.reconcile import job_key
from validators.engine_pool import EnginePool, pool_from_settings
from validators.git_source import GitCache
from validators.image_policy import DEFAULT_ALLOWED_IMAGES
from validators.outcome import ValidationReport
from validators.snapshot import cleanup_leftovers
from validators.web_eval.artifacts import ArtifactStore
from validators.web_eval.runner import evaluate

log = logging.getLogger(__name__)

JOB = JOB_KIND
__all__ = ["APPROVE", "JOB", "ValidationService", "instance_id", "job_key", "stages_for"]
#: triggers that are a person's explicit request (they validate drafts too)
MANUAL_TRIGGERS = {"command", "rerun"}
#: hooks run after a validation ends (auto-fix and auto-merge register here)
AfterValidation = Callable[[ValidationRecord, ValidationReport], Awaitable[None]]


def instance_id(settings: Any) -> str:
    """This bot's identity on a shared Docker engine: its store and App (labels its snapshots)."""
    return hashlib.sha256(f"{settings.database_url}|{settings.github_app_id}".encode()).hexdigest()[:16]


async def remove_leftover_snapshots(instance: str | None = None, pool: EnginePool | None = None) -> int:
    """At start-up: remove containers, networks and anonymous volumes a crash left behind (by label), on every
    engine of `pool` when given, else on the environment's engine."""
    if pool is not None:
        removed = await pool.cleanup_leftovers(instance)
        if removed:
            log.warning("removed %d snapshot object(s) left by an earlier run", removed)
        return removed
    try:
        client = await asyncio.to_thread(docker.from_env)
    except Exception:
        log.warning("no Docker engine reachable: validations will fail until one is")
        return 0
    try:
        removed = await asyncio.to_thread(cleanup_leftovers, client, instance)
    except Exception:
        log.exception("removing leftover snapshots failed; continuing")
        removed = 0
    finally:
        client.close()
    if removed:
        log.warning("removed %d snapshot object(s) left by an earlier run", removed)
    return removed


@dataclass
class ValidationService:
    """Check runs, the validation job and its report: built once, with what it uses."""

    jobs: JobQueue
    store: ValidationStore
    github: GitHubClients
    config: RepoConfigLoader
    permissions: PermissionCache
    git_cache: GitCache
    #: GitHub's web address (a PR head without a repository is fetched from there)
    github_url: str
    #: this bot's label on its snapshots (instance_id)
    instance: str
    chromium_path: str = "/usr/bin/chromium"
    ca_bundle: Path | None = None
    concurrency: int = 2
    #: told when a validation ends (auto-fix and auto-merge), in this order
    after: tuple[AfterValidation, ...] = ()
    artifacts: ArtifactStore | None = None
    #: validations running a browser at once (WEB_EVAL_MAX_CONCURRENT)
    max_browsers: int = 2
    #: the operator's caps on resources and timeouts (SNAPSHOT_MAX_*)
    caps: SnapshotCaps | None = None
    #: the images a snapshot may start from (SNAPSHOT_ALLOWED_IMAGES, globs)
    allowed_images: tuple[str, ...] = DEFAULT_ALLOWED_IMAGES
    #: /metrics (validation_stage_seconds); None in tests that do not look
    metrics: Metrics | None = None
    #: the operator's secrets (SECRETS_PATH, CODEGEN_SECRET_*), given to trusted runs that name them
    secrets: OperatorSecrets = field(default_factory=OperatorSecrets)
    #: SECRETS_FOR_FORKS: fork code gets secrets too
    secrets_for_forks: bool = False
    #: DOCKER_HOSTS (validators/engines.py); ignored when `engines` is given
    docker_hosts: str = ""
    #: the engines validations run on (built from `docker_hosts` and `concurrency` when None)
    engines: EnginePool | None = None
    #: (repository, head SHA) the open-PR reconciliation already looked at in this process
    examined: set[tuple[str, str]] = field(default_factory=set)
    _browsers: asyncio.Semaphore = field(init=False)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._browsers = asyncio.Semaphore(self.max_browsers)
        if self.engines is None:  # ValueError naming the bad DOCKER_HOSTS entry
            self.engines = pool_from_settings(self.docker_hosts, self.concurrency, self.instance)

    def engine_pool(self) -> EnginePool:
        assert self.engines is not None
        return self.engines

    def register(self) -> None:
        # slots are shared between installations: one tenant's burst cannot starve another's validations;
        # as many run at once as the engines have slots (each engine's own limit: EnginePool.slot)
        self.jobs.register(JOB, self.run_job, concurrency=self.engine_pool().total_slots, max_attempts=3, fair=True,
                           on_exhausted=self.on_exhausted)

    def pr_lock(self, repo: str, number: int | None) -> asyncio.Lock:
        """One pull request's validations are requested, repaired and concluded one at a time."""
        return self._locks.setdefault(f"{repo}#{number}", asyncio.Lock())

    def observe_stage(self, stage: str, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.validation_stage_seconds.labels(stage=stage, outcome=outcome).observe(seconds)

    # --- triggering ---------------------------------------------------------------------------
    async def request(
        self, gh: GitHubAPI, *, repo: str, pr: dict[str, Any], installation_id: int, trigger: str,
        config: RepoConfig,
    ) -> ValidationRecord | None:
        async with self.pr_lock(repo, int(pr["number"])):
            return await self._request(gh, repo=repo, pr=pr, installation_id=installation_id, trigger=trigger,
                                       config=config)

    async def _request(
        self, gh: GitHubAPI, *, repo: str, pr: dict[str, Any], installation_id: int, trigger: str,
        config: RepoConfig,
    ) -> ValidationRecord | None:
        number, sha = int(pr["number"]), pr["head"]["sha"]
        if trigger not in MANUAL_TRIGGERS:
            existing = await self.store.latest_for_sha(repo, sha)
            if existing is not None and existing.state != "cancelled":
                # pull_request.synchronize and check_suite.requested announce the same push; a delivery
                # handled again after a crash finishes what the crash left (check runs, job)
                if not existing.check_runs or existing.state in ("queued", "running"):
                    decision = await self._decide(gh, repo, pr, trigger, config) if existing.state == "held" else None
                    await reconcile.resume(self, gh, existing, pr, config,
                                           decision if isinstance(decision, Hold) else None)
                return None
        await self.cancel_older(gh, repo, number, keep_sha=None)
        decision = await self._decide(gh, repo, pr, trigger, config)
        if not isinstance(decision, Run | Hold):
            log.info("validation skipped: %s", decision.reason, extra={"repo": repo, "pr": number})
            return None
        base_url = f"{self.github_url}/{repo}.git"
        head_repo = pr["head"].get("repo") or {}
        record = await self.store.create(
            repo=repo, pr_number=number, head_sha=sha, head_ref=pr["head"].get("ref"),
            clone_url=head_repo.get("clone_url") or base_url,
            # fetched from the base repository's refs/pull/N/head: a private fork's URL is not readable
            source_url=((pr["base"].get("repo") or {}).get("clone_url")) or base_url,
            installation_id=installation_id, state="held" if isinstance(decision, Hold) else "queued",
            trigger=trigger,
        )
        return await reconcile.start(self, gh, record, pr, config, decision, look_first=False)

    async def _decide(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], trigger: str,
                      config: RepoConfig) -> Decision:
        owner, name = repo.split("/", 1)
        author = (pr.get("user") or {}).get("login", "")
        head_repo = pr["head"].get("repo") or {}
        head_owner = (head_repo.get("owner") or {}).get("login")
        forked = (head_repo.get("full_name") or "").lower() != repo.lower()
        state = PullState(
            open=pr.get("state", "open") == "open",
            draft=bool(pr.get("draft")),
            head_repo=head_repo.get("full_name"),
            base_repo=repo,
            author=author,
            # a branch of this repository was pushed by someone with write access: no lookup needed
            author_permission=(
                await self.permissions.permission(gh, owner, name, author) if forked and author else "none"
            ),
            approved_by=await self.store.approved_by(repo, pr["head"]["sha"]),
            head_owner=head_owner,
            head_owner_permission=(
                await self.permissions.permission(gh, owner, name, head_owner) if forked and head_owner else "none"
            ),
        )
        return decide_validation(state, validate_drafts=config.merge.validate_drafts,
                                 requested=trigger in MANUAL_TRIGGERS)

    async def cancel(self, gh: GitHubAPI, repo: str, number: int) -> None:
        """The pull request was closed: its live validations stop (after a request under way for it)."""
        async with self.pr_lock(repo, number):
            await self.cancel_older(gh, repo, number, keep_sha=None)

    async def cancel_older(self, gh: GitHubAPI, repo: str, number: int, keep_sha: str | None) -> None:
        """Stop the PR's live validations (other than `keep_sha`) and conclude their check runs."""
        for old in await self.store.live_for_pr(repo, number):
            if old.head_sha != keep_sha:
                await self.cancel_record(gh, old, "A newer commit was pushed; this one is no longer validated.")

    async def cancel_record(self, gh: GitHubAPI, old: ValidationRecord, summary: str) -> None:
        """Stop one live validation; its unfinished check runs end `cancelled` saying `summary` (by the job's
        own cancellation when it is running)."""
        running = await self.store.job_running(old.id)
        await self.store.update(old.id, state="cancelled", finished_at=time.time())
        await self.jobs.cancel(job_key(old.repo, old.pr_number, old.head_sha))
        if running:
            return  # the job's own cancellation concludes its check runs
        if old.state != "held":  # the store knows what was reported: GitHub is asked only if unsure
            old = await check_run_set.with_ids(gh, self.store, old)
            await check_run_set.conclude_open(gh, self.store, old, "cancelled", "Cancelled", summary)

    # --- running ------------------------------------------------------------------------------
    async def run_job(self, job: Job) -> Retry | None:
        return await runner.run_job(self, job)

    # --- the reconciler's tasks (registered in entrypoints/app.py) -----------------------------
    async def on_exhausted(self, job: Job, error: str) -> None:
        """The job used up its attempts: the validation ends, not passed, and its check runs say so."""
        await reconcile.on_exhausted(self, job, error)

    async def reconcile_stuck(self) -> int:
        """Validations `queued`/`running` with no live job: re-queued, or concluded when the PR moved on."""
        return await reconcile.reconcile_stuck(self)

    async def reconcile_check_runs(self) -> int:
        """Check runs left `queued`/`in_progress` by a validation that ended: concluded `cancelled`."""
        return await reconcile.reconcile_check_runs(self)

    async def reconcile_open_prs(self) -> int:
        """Open PRs of active repositories whose head the bot never saw: validated."""
        return await reconcile.reconcile_open_prs(self)

    async def _fetch_commit(self, record: ValidationRecord, token: str | None) -> Path:
        """The head SHA, from the base repository (its `refs/pull/N/head`, or a merge queue's branch, then the
        SHA itself); a record made before `source_url` existed is fetched from its head repository's clone
        URL, as it was then."""
        if record.source_url and record.queue_base is not None:
            return await self.git_cache.fetch(record.source_url, record.head_sha, token,
                                              ref=f"refs/heads/{record.head_ref}")
        if record.source_url:
            return await self.git_cache.fetch(record.source_url, record.head_sha, token,
                                              pull_number=record.pr_number)
        return await self.git_cache.fetch(record.clone_url or "", record.head_sha, token)

    def web_eval_for(self, config: RepoConfig, record: ValidationRecord) -> Any:
        """The browser stage for this validation (None when the config has no pages or flows)."""
        if not config.web_eval.enabled or self.artifacts is None:
            return None
        artifacts = self.artifacts

        async def run(base_url: str, cfg: RepoConfig, validation_id: str, *, network: str | None = None,
                      app_host: str | None = None, docker: Any = None) -> Any:
            async def save(name: str, data: bytes) -> str:
                path = await asyncio.to_thread(artifacts.save, validation_id, name, data)
                return artifacts.signed_url(validation_id, path.name)

            async with self._browsers:
                return await evaluate(base_url, cfg.web_eval, save, self.chromium_path, self.max_browsers,
                                      network=network, app_host=app_host, docker=docker)

        return run

    async def _changed_files(self, gh: GitHubAPI, record: ValidationRecord, repo_dir: Path) -> dict[str, bytes | None]:
        owner, name = record.owner_repo
        files: dict[str, bytes | None] = {}
        if record.pr_number is None:
            return files
        async for entry in gh.getiter(
            "/repos/{owner}/{repo}/pulls/{pull_number}/files{?per_page}",
            {"owner": owner, "repo": name, "pull_number": record.pr_number, "per_page": 100},
        ):
            path = entry["filename"]
            if entry.get("status") == "removed":
                files[path] = None
                continue
            files[path] = await self.git_cache.show(repo_dir, record.head_sha, path)
        return files
