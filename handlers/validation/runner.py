"""The `validation` job: one record's validation, from the store to its check runs, safe to run again.

- A record that ran before (a retried job, or one a restart re-queued) is *resumed*: the stages whose
  check runs were already concluded are not reported again (GitHub appends a PATCH's annotations). The
  store knows which (`reported`); only after a crash between sending a conclusion and recording it is
  GitHub asked, once.
- However the job is cancelled, before or during the pipeline, a validation that was cancelled (a newer
  push, a closed pull request) ends with every unfinished check run `cancelled`. A job stopped by a
  shutdown leaves them: it resumes at the next start.
- Each stage's duration and outcome is observed (`validation_stage_seconds{stage, outcome}`).
- Secrets (`snapshot.secrets`, docs/secrets.md): a trusted run gets the operator's values for the names
  its config gives (`plan_secrets`); one the operator does not provide ends the validation, every check
  run saying which secret and where it is set. Code from a fork (the pull request's head repository, asked
  of GitHub, is not the base repository; a deleted fork counts) gets none, approved or not, unless
  SECRETS_FOR_FORKS; a merge-queue commit is trusted. Fork code with names configured runs without them,
  and `build`'s summary says so.
- Engines (`DOCKER_HOSTS`): the validation holds one engine's slot from fetching the commit to its report
  (validators/engine_pool.py); its snapshot, images and browser are on that engine, and on a remote one the
  health check and the firewall are too (validators/engine_host.py). With no engine answering it ends like
  any failure to reach Docker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import docker
from gidgethub.abc import GitHubAPI

from bot.dispatch.jobs import Job, Retry
from bot.github.check_run_reporter import SENDING, CheckRunReporter
from bot.store.validations import ValidationRecord
from config.schema import RepoConfig
from handlers.validation import check_run_set
from handlers.validation.limits import within_caps
from validators.engine_pool import Engine, EngineUnavailable
from validators.outcome import StageOutcome
from validators.pipeline import StageListener, ValidationRequest, validate
from validators.snapshot import INSTANCE_LABEL

if TYPE_CHECKING:
    from handlers.validation.service import ValidationService

log = logging.getLogger(__name__)

#: told each stage's duration: (stage, conclusion, seconds)
ObserveStage = Callable[[str, str, float], None]
CANCELLED = "A newer commit replaced this one, or the pull request was closed."


@dataclass
class MeteredListener:
    """Passes stage events to the reporter and times each stage for /metrics."""

    reporter: StageListener
    observe: ObserveStage | None
    #: stages concluded before (a resumed validation): observed then, not again
    concluded: frozenset[str] = frozenset()
    _started: dict[str, float] = field(default_factory=dict)

    async def stage_started(self, stage: str) -> None:
        self._started[stage] = time.monotonic()
        await self.reporter.stage_started(stage)

    async def stage_finished(self, outcome: StageOutcome) -> None:
        if self.observe is not None and outcome.stage not in self.concluded:
            began = self._started.get(outcome.stage)
            seconds = time.monotonic() - began if began is not None else outcome.duration
            self.observe(outcome.stage, outcome.conclusion, seconds)
        await self.reporter.stage_finished(outcome)


async def run_job(svc: ValidationService, job: Job) -> Retry | None:
    record = await svc.store.get(job.payload["validation_id"])
    if record is None or record.state not in ("queued", "running"):
        return None
    gh = svc.github.installation(record.installation_id)
    record = await svc.store.update(record.id, state="running", started_at=record.started_at or time.time())
    try:
        await _run(svc, job, gh, record)
    except asyncio.CancelledError:
        await asyncio.shield(_cancelled(svc, gh, record.id))
        raise
    return None


async def _cancelled(svc: ValidationService, gh: GitHubAPI, validation_id: str) -> None:
    """The job was cancelled: a cancelled validation's unfinished check runs end `cancelled` (the pipeline
    concluded those it reached; this covers the rest, e.g. before the pipeline started)."""
    record = await svc.store.get(validation_id)
    if record is None or record.state != "cancelled":
        return  # a shutdown: the job stays running in the store and resumes at the next start
    try:
        await check_run_set.conclude_open(gh, svc.store, record, "cancelled", "Cancelled", CANCELLED)
    except Exception:
        log.exception("could not conclude the check runs of cancelled validation %s", record.id)


async def end_failed(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord, title: str, summary: str,
                     *, conclusion: str = "failure") -> ValidationRecord:
    """The validation ends without a report: its unfinished check runs say why."""
    await check_run_set.conclude_open(gh, svc.store, record, conclusion, title, summary)
    return await svc.store.update(record.id, state="done", passed=False, finished_at=time.time())


async def _run(svc: ValidationService, job: Job, gh: GitHubAPI, record: ValidationRecord) -> None:
    owner, name = record.owner_repo
    loaded = await svc.config.load(owner, name, job.payload.get("base_ref"), installation_id=record.installation_id)
    if loaded.config is None:
        await end_failed(svc, gh, record, "Invalid .github/codegen.yml",
                         "The config in force has errors; see the `codegen/config` check run.")
        return
    config = within_caps(loaded.config, svc.caps) if svc.caps is not None else loaded.config
    secrets = await plan_secrets(svc, gh, record, config.snapshot.secrets)
    if isinstance(secrets, MissingSecrets):
        await end_failed(svc, gh, record, secrets.title, secrets.summary)
        return
    try:
        async with svc.engine_pool().slot() as engine:
            await _run_on(svc, job, gh, record, config, secrets, engine)
    except EngineUnavailable as exc:
        await _not_prepared(svc, gh, record, exc)


async def _not_prepared(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord, exc: Exception) -> None:
    log.error("could not prepare validation %s: %s", record.id, exc, exc_info=not isinstance(exc, EngineUnavailable))
    await end_failed(svc, gh, record, "Could not prepare the snapshot",
                     f"Fetching the commit or reaching Docker failed: `{type(exc).__name__}`."
                     " Press Re-run to try again.")


async def _run_on(svc: ValidationService, job: Job, gh: GitHubAPI, record: ValidationRecord, config: RepoConfig,
                  secrets: SecretsPlan, engine: Engine) -> None:
    owner, name = record.owner_repo
    try:
        prepared = await _prepare(svc, gh, record, engine)
    except Exception as exc:
        await _not_prepared(svc, gh, record, exc)
        return
    log.info("validation %s runs on Docker engine %s", record.id, engine.name)
    concluded = frozenset(await _concluded(svc, gh, record))
    reporter = CheckRunReporter(
        gh, owner, name, record.check_runs, offer_fix=True, concluded=concluded,
        on_reported=lambda stage, conclusion: svc.store.mark_reported(record.id, {stage: conclusion}),
    )
    request = await _request(svc, job, record, config, prepared, secrets)
    request.firewall_host, request.health_probe = engine.firewall_host, engine.health_probe
    try:
        report = await validate(request, MeteredListener(reporter, svc.observe_stage, concluded))
    finally:
        await asyncio.shield(reporter.close())
    record = await svc.store.update(record.id, state="done", report=report.to_json(), passed=report.passed,
                                    finished_at=time.time())
    for hook in svc.after:
        try:
            await hook(record, report)
        except Exception:
            log.exception("after-validation hook %s failed", getattr(hook, "__qualname__", hook))


class Prepared(NamedTuple):
    source_tar: bytes
    changed_files: dict[str, bytes | None]
    docker: docker.DockerClient


class SecretsPlan(NamedTuple):
    #: NAME → value, given to `build`, `test` and the deployed app
    given: dict[str, str]
    #: why the configured secrets were not given (for `build`'s summary), None when they were
    note: str | None = None


class MissingSecrets(NamedTuple):
    title: str
    summary: str


async def _request(svc: ValidationService, job: Job, record: ValidationRecord, config: RepoConfig,
                   prepared: Prepared, secrets: SecretsPlan) -> ValidationRequest:
    return ValidationRequest(
        validation_id=record.id, repo=record.repo, sha=record.head_sha, config=config,
        source_tar=prepared.source_tar, changed_files=prepared.changed_files, docker=prepared.docker,
        ca_bundle=svc.ca_bundle, web_eval=svc.web_eval_for(config, record),
        extra_labels={INSTANCE_LABEL: svc.instance},
        # an approved commit is code that needed approval: it shares no cache with trusted runs
        shared_caches=await svc.store.approved_by(record.repo, record.head_sha) is None,
        repo_id=job.payload.get("repo_id"), allowed_images=svc.allowed_images,
        secrets=secrets.given, secrets_note=secrets.note,
    )


async def plan_secrets(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord,
                       names: list[str]) -> SecretsPlan | MissingSecrets:
    """The secrets this run gets (see the module's docstring), or why a trusted run cannot have them."""
    if not names:
        return SecretsPlan({})
    if not svc.secrets_for_forks and await from_fork(gh, record):
        return SecretsPlan({}, f"`snapshot.secrets` ({', '.join(names)}) were not given to this run: its code"
                               " comes from a fork, and this bot gives secrets to forks' code only with"
                               " `SECRETS_FOR_FORKS=true` (docs/secrets.md).")
    resolved = svc.secrets.resolve(record.repo, names)
    if resolved.missing:
        title = f"Secret {', '.join(resolved.missing)} not provided"
        lines = [f"- `{name}`: set it {svc.secrets.where_to_set(record.repo, name)}" for name in resolved.missing]
        summary = ("`.github/codegen.yml` names secrets (`snapshot.secrets`) that the bot's operator does not"
                   f" provide for `{record.repo}`, so nothing ran:\n\n" + "\n".join(lines))
        return MissingSecrets(title, summary)
    return SecretsPlan(resolved.values)


async def from_fork(gh: GitHubAPI, record: ValidationRecord) -> bool:
    """True unless the validated code is known to come from the base repository: a merge-queue commit, or a
    pull request whose head repository (asked of GitHub: a deleted fork has none) is the base repository."""
    if record.queue_base is not None:
        return False  # only writers enqueue, after the required checks passed on the pull request
    if record.pr_number is None:
        return True
    owner, name = record.owner_repo
    pull: dict[str, Any] = await gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}",
                                            {"owner": owner, "repo": name, "pull_number": record.pr_number})
    head = (pull.get("head") or {}).get("repo") or {}
    return str(head.get("full_name") or "").lower() != record.repo.lower()


async def _prepare(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord, engine: Engine) -> Prepared:
    """The commit as a tar, the PR's changed files and the engine's Docker client (the request's inputs)."""
    token = await svc.github.token_for(record.installation_id)
    repo_dir = await svc._fetch_commit(record, token)
    source = await svc.git_cache.archive(repo_dir, record.head_sha)
    changed = await svc._changed_files(gh, record, repo_dir)
    return Prepared(source, changed, await asyncio.to_thread(engine.client))


async def _concluded(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord) -> set[str]:
    """The stages a resumed validation must not report again: concluded with a real outcome. A stage
    concluded `cancelled` (the run was interrupted) carries no annotations: it is reported again."""
    known = {s: c for s, c in (record.reported or {}).items() if c != SENDING}
    if check_run_set.unsure(record):  # a crash between sending a conclusion and recording it
        owner, name = record.owner_repo
        learned = await check_run_set.concluded_on_github(gh, owner, name, record)
        await svc.store.mark_reported(record.id, learned)
        known.update(learned)
    return {stage for stage, conclusion in known.items() if conclusion != "cancelled" and stage in record.check_runs}
