"""The life of a pull request's validation on GitHub: check runs queued at once, a durable job, a report.

- `request()` is called by every trigger (PR opened/synchronize/reopened/ready_for_review, check suite
  requested/rerequested, check run rerequested or its Re-run button, `/codegen validate`, `/retest`).
  It cancels the PR's older validation (its container stops, its check runs end `cancelled`), decides with
  the pure gate (handlers/validation/gate.py), and creates one check run per stage: `queued` for a
  run, or concluded `action_required` with an **Approve and run** button for held (untrusted) code.
- The `validation` job (at most `VALIDATION_CONCURRENCY` at once, default 2) fetches the exact head SHA
  into the per-repository bare cache with the installation token as an HTTP header, copies it into a
  container as a tar, runs the pipeline (validators/pipeline.py) and reports each stage to its check run.
  The report is kept in the store. A restart re-queues a validation that was running, so no check run is
  left `in_progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from bot.github import check_runs
from bot.github.check_run_reporter import RERUN, CheckRunReporter, now_iso
from bot.github.client import GitHubClients
from bot.github.permissions import PermissionCache
from bot.store.validations import ValidationRecord, ValidationStore
from config.loader import RepoConfigLoader
from config.schema import RepoConfig
from handlers.validation.gate import Hold, PullState, Run, decide_validation
from handlers.validation.limits import SnapshotCaps, within_caps
from validators.git_source import GitCache
from validators.image_policy import DEFAULT_ALLOWED_IMAGES
from validators.outcome import CHECK_NAMES, STAGES, ValidationReport
from validators.pipeline import ValidationRequest, validate
from validators.snapshot import INSTANCE_LABEL, cleanup_leftovers
from validators.web_eval.artifacts import ArtifactStore
from validators.web_eval.runner import evaluate

log = logging.getLogger(__name__)

JOB = "validation"
APPROVE = {"label": "Approve and run", "description": "Run this commit's code", "identifier": "ok-to-test"}
#: triggers that are a person's explicit request (they validate drafts too)
MANUAL_TRIGGERS = {"command", "rerun"}
#: hooks run after a validation ends (auto-fix and auto-merge register here)
AfterValidation = Callable[[ValidationRecord, ValidationReport], Awaitable[None]]


def job_key(repo: str, pr_number: int | None, sha: str) -> str:
    return f"validation:{repo}#{pr_number}" if pr_number is not None else f"validation:{repo}@{sha}"


def stages_for(config: RepoConfig) -> list[str]:
    """Every stage gets its check run; `codegen/web-eval` says how to enable it when it is not configured."""
    return [*STAGES, "web-eval"]


def instance_id(settings: Any) -> str:
    """This bot's identity on a shared Docker engine: its store and App (labels its snapshots)."""
    return hashlib.sha256(f"{settings.database_url}|{settings.github_app_id}".encode()).hexdigest()[:16]


async def remove_leftover_snapshots(instance: str | None = None) -> int:
    """At start-up: remove containers, networks and anonymous volumes a crash left behind (by label)."""
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
    _browsers: asyncio.Semaphore = field(init=False)
    _docker: docker.DockerClient | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._browsers = asyncio.Semaphore(self.max_browsers)

    def register(self) -> None:
        # slots are shared between installations: one tenant's burst cannot starve another's validations
        self.jobs.register(JOB, self.run_job, concurrency=self.concurrency, max_attempts=3, fair=True)

    async def docker_client(self) -> docker.DockerClient:
        if self._docker is None:
            self._docker = await asyncio.to_thread(docker.from_env)
        return self._docker

    # --- triggering ---------------------------------------------------------------------------
    async def request(
        self, gh: GitHubAPI, *, repo: str, pr: dict[str, Any], installation_id: int, trigger: str,
        config: RepoConfig,
    ) -> ValidationRecord | None:
        number = int(pr["number"])
        lock = self._locks.setdefault(f"{repo}#{number}", asyncio.Lock())
        async with lock:
            return await self._request(gh, repo=repo, pr=pr, installation_id=installation_id, trigger=trigger,
                                       config=config)

    async def _request(
        self, gh: GitHubAPI, *, repo: str, pr: dict[str, Any], installation_id: int, trigger: str,
        config: RepoConfig,
    ) -> ValidationRecord | None:
        owner, name = repo.split("/", 1)
        number, sha = int(pr["number"]), pr["head"]["sha"]
        if trigger not in MANUAL_TRIGGERS:
            existing = await self.store.latest_for_sha(repo, sha)
            if existing is not None and existing.state != "cancelled":
                return None  # pull_request.synchronize and check_suite.requested announce the same push
        await self.cancel_older(gh, repo, number, keep_sha=None)
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
            author_permission=await self.permissions.permission(gh, owner, name, author) if author else "none",
            approved_by=await self.store.approved_by(repo, sha),
            head_owner=head_owner,
            head_owner_permission=(
                await self.permissions.permission(gh, owner, name, head_owner) if forked and head_owner else "none"
            ),
        )
        decision = decide_validation(state, validate_drafts=config.merge.validate_drafts,
                                     requested=trigger in MANUAL_TRIGGERS)
        if not isinstance(decision, Run | Hold):
            log.info("validation skipped: %s", decision.reason, extra={"repo": repo, "pr": number})
            return None
        record = await self.store.create(
            repo=repo, pr_number=number, head_sha=sha, head_ref=pr["head"].get("ref"),
            clone_url=((pr["head"].get("repo") or {}).get("clone_url")) or f"{self.github_url}/{repo}.git",
            installation_id=installation_id, state="held" if isinstance(decision, Hold) else "queued",
            trigger=trigger,
        )
        ids = await self._create_check_runs(gh, owner, name, record, config, decision, pr.get("html_url"))
        record = await self.store.update(record.id, check_runs=ids)
        if isinstance(decision, Run):
            await self.jobs.enqueue(JOB, {"validation_id": record.id, "base_ref": pr["base"]["ref"],
                                          "repo_id": (pr["base"].get("repo") or {}).get("id")},
                                    key=job_key(repo, number, sha), tenant=str(installation_id))
        return record


    async def _create_check_runs(
        self, gh: GitHubAPI, owner: str, repo: str, record: ValidationRecord, config: RepoConfig,
        decision: Run | Hold, pull_url: str | None = None,
    ) -> dict[str, int]:
        def body(stage: str) -> dict[str, Any]:
            base: dict[str, Any] = {"name": CHECK_NAMES[stage], "head_sha": record.head_sha, "external_id": record.id}
            if isinstance(decision, Hold):
                held = {"details_url": pull_url} if pull_url else {}  # where a maintainer says ok-to-test
                return {
                    **base, **held, "status": "completed", "conclusion": "action_required", "completed_at": now_iso(),
                    "output": check_runs.output("Waiting for a maintainer's approval", decision.reason),
                    "actions": [APPROVE],
                }
            return {**base, "status": "queued",
                    "output": check_runs.output("Queued", f"Validation of `{record.head_sha[:12]}` is queued.")}

        stages = stages_for(config)
        created = await asyncio.gather(*(check_runs.create(gh, owner, repo, body(s)) for s in stages))
        return {stage: int(run["id"]) for stage, run in zip(stages, created, strict=True)}

    async def cancel_older(self, gh: GitHubAPI, repo: str, number: int, keep_sha: str | None) -> None:
        """Stop the PR's live validations (other than `keep_sha`) and conclude their check runs."""
        owner, name = repo.split("/", 1)
        for old in await self.store.live_for_pr(repo, number):
            if old.head_sha == keep_sha:
                continue
            was_running = old.state == "running"
            await self.store.update(old.id, state="cancelled", finished_at=time.time())
            await self.jobs.cancel(job_key(repo, number, old.head_sha))
            if was_running:
                continue  # the job's own cancellation concludes its check runs
            if old.state == "queued":
                await self._conclude_all(gh, owner, name, old, "cancelled", "Cancelled",
                                         "A newer commit was pushed; this one is no longer validated.")

    async def _conclude_all(
        self, gh: GitHubAPI, owner: str, repo: str, record: ValidationRecord, conclusion: str, title: str,
        summary: str, only_open: bool = False,
    ) -> None:
        body = {"status": "completed", "conclusion": conclusion, "completed_at": now_iso(),
                "output": check_runs.output(title, summary), "actions": [RERUN]}
        await asyncio.gather(
            *(check_runs.update(gh, owner, repo, check_run_id, body) for check_run_id in record.check_runs.values())
        )

    # --- running ------------------------------------------------------------------------------
    async def run_job(self, job: Job) -> Retry | None:
        record = await self.store.get(job.payload["validation_id"])
        if record is None or record.state not in ("queued", "running"):
            return None
        owner, name = record.owner_repo
        gh = self.github.installation(record.installation_id)
        record = await self.store.update(record.id, state="running", started_at=time.time())
        loaded = await self.config.load(owner, name, job.payload.get("base_ref"),
                                        installation_id=record.installation_id)
        if loaded.config is None:
            await self._conclude_all(gh, owner, name, record, "failure", "Invalid .github/codegen.yml",
                                     "The config in force has errors; see the `codegen/config` check run.")
            await self.store.update(record.id, state="done", passed=False, finished_at=time.time())
            return None
        config = within_caps(loaded.config, self.caps) if self.caps is not None else loaded.config
        try:
            token = await self.github.token_for(record.installation_id)
            repo_dir = await self.git_cache.fetch(record.clone_url or "", record.head_sha, token)
            source = await self.git_cache.archive(repo_dir, record.head_sha)
            changed = await self._changed_files(gh, record, repo_dir)
            client = await self.docker_client()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._conclude_all(gh, owner, name, record, "cancelled", "Cancelled",
                                                        "A newer commit replaced this one."))
            raise
        except Exception as exc:
            log.exception("could not prepare validation %s", record.id)
            await self._conclude_all(gh, owner, name, record, "failure", "Could not prepare the snapshot",
                                     f"Fetching the commit or reaching Docker failed: `{type(exc).__name__}`."
                                     " Press Re-run to try again.")
            await self.store.update(record.id, state="done", passed=False, finished_at=time.time())
            return None
        reporter = CheckRunReporter(gh, owner, name, record.check_runs, offer_fix=True)
        request = ValidationRequest(
            validation_id=record.id, repo=record.repo, sha=record.head_sha, config=config, source_tar=source,
            changed_files=changed, docker=client, ca_bundle=self.ca_bundle,
            web_eval=self.web_eval_for(config, record),
            extra_labels={INSTANCE_LABEL: self.instance},
            # an approved commit is code that needed approval: it shares no cache with trusted runs
            shared_caches=await self.store.approved_by(record.repo, record.head_sha) is None,
            repo_id=job.payload.get("repo_id"), allowed_images=self.allowed_images,
        )
        report = await validate(request, reporter)
        record = await self.store.update(record.id, state="done", report=report.to_json(), passed=report.passed,
                                         finished_at=time.time())
        for hook in self.after:
            try:
                await hook(record, report)
            except Exception:
                log.exception("after-validation hook %s failed", getattr(hook, "__qualname__", hook))
        return None

    def web_eval_for(self, config: RepoConfig, record: ValidationRecord) -> Any:
        """The browser stage for this validation (None when the config has no pages or flows)."""
        if not config.web_eval.enabled or self.artifacts is None:
            return None
        artifacts = self.artifacts

        async def run(base_url: str, cfg: RepoConfig, validation_id: str, *, network: str | None = None,
                      app_host: str | None = None) -> Any:
            async def save(name: str, data: bytes) -> str:
                path = await asyncio.to_thread(artifacts.save, validation_id, name, data)
                return artifacts.signed_url(validation_id, path.name)

            async with self._browsers:
                return await evaluate(base_url, cfg.web_eval, save, self.chromium_path, self.max_browsers,
                                      network=network, app_host=app_host)

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
