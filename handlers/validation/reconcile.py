"""Exactly-once check runs for a validation, and the reconciler's repairs (issue 14).

A validation record is created first; then its check runs (each with `external_id` = the record's id);
then, in **one** store transaction, their ids and its job (`start`). A crash anywhere in between leaves a
record that is visibly unfinished — no check-run ids, or `queued`/`running` with no live job — and
`resume` finishes it: it adopts the check runs GitHub already has for the record (found by `external_id`)
before creating any, and queues the job unless one is live. `resume` runs when the event is delivered again
(its handling is repeated after a crash) and from the reconciler. One set of check runs per record.

The reconciler's tasks (registered in entrypoints/app.py), each store-first, asking GitHub only about what
the store cannot answer:
- `reconcile_stuck`: a `queued`/`running` validation with no live job is re-queued when its commit is still
  the pull request's head, else cancelled (its unfinished check runs end `cancelled`);
- `reconcile_check_runs`: a `done`/`cancelled` validation whose check runs the store does not know as all
  concluded: the ones still open on GitHub end `cancelled`, "Interrupted; press Re-run";
- `on_exhausted`: a validation job that used up its attempts ends the validation (`done`, not passed) and
  its unfinished check runs, saying so;
- `reconcile_open_prs` (`RECONCILE_OPEN_PRS`): an open pull request of an active repository whose head has
  no validation record and no `codegen/*` check run (the bot never saw it) is validated.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.dispatch.jobs import Job, JobQueue
from bot.github import check_runs
from bot.runtime.faults import crash_point
from bot.runtime.logs import delivery_id_var
from bot.store.validations import JOB_KIND, QueuedJob, ValidationRecord
from config.schema import RepoConfig
from handlers.validation import check_run_set
from handlers.validation.check_run_set import INTERRUPTED
from handlers.validation.gate import Hold, Run
from handlers.validation.runner import end_failed

if TYPE_CHECKING:
    from handlers.validation.service import ValidationService

log = logging.getLogger(__name__)

#: seconds a merge queue waits for a commit's checks (GitHub's default): a queue validation is repaired within
QUEUE_WAITS = 3600.0
#: a repository is active while it had a validation this recently (its open PRs are reconciled)
ACTIVE_FOR = 7 * 24 * 3600.0
#: check runs of validations that ended this long ago are looked at (not sooner: the job may still report)
SETTLE_SECONDS = 60.0
#: nor later: GitHub's check runs of old commits are left as they are
LOOK_BACK = 3 * 24 * 3600.0


def job_key(repo: str, pr_number: int | None, sha: str) -> str:
    return f"validation:{repo}#{pr_number}" if pr_number is not None else f"validation:{repo}@{sha}"


def wake(jobs: JobQueue) -> None:
    """The queue's dispatcher sleeps until its next due job; one inserted by `record_check_runs` (another
    transaction than `JobQueue.enqueue`'s) wakes it here."""
    jobs.wake()


def queued_job(record: ValidationRecord, pr: dict[str, Any]) -> QueuedJob:
    base = pr.get("base") or {}
    payload = {"validation_id": record.id, "base_ref": base.get("ref"), "repo_id": (base.get("repo") or {}).get("id")}
    return QueuedJob(JOB_KIND, payload, job_key(record.repo, record.pr_number, record.head_sha),
                     str(record.installation_id), delivery_id_var.get())


async def start(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord, pr: dict[str, Any],
                config: RepoConfig, decision: Run | Hold, *, look_first: bool) -> ValidationRecord:
    """The record's check runs (adopted where they exist when `look_first`), then their ids and its job in
    one transaction."""
    owner, name = record.owner_repo
    sent = check_run_set.bodies(record, config, decision, pr.get("html_url"))
    ids, reported = await check_run_set.ensure(gh, owner, name, record, sent, look_first=look_first)
    crash_point("validation.store.after")  # the record and its check runs exist; their ids and job do not
    job = queued_job(record, pr) if isinstance(decision, Run) else None
    record, queued = await svc.store.record_check_runs(record.id, ids, reported, job)
    if queued:
        wake(svc.jobs)
    return record


async def resume(svc: ValidationService, gh: GitHubAPI, record: ValidationRecord, pr: dict[str, Any],
                 config: RepoConfig, hold: Hold | None) -> bool:
    """Finish what a crash left of `record` (its commit is the PR's head): True when something was repaired."""
    if record.state not in ("held", "queued", "running"):
        return False
    if record.check_runs:
        if record.state == "held" or await svc.store.has_live_job(record.id):
            return False
        _, queued = await svc.store.record_check_runs(record.id, record.check_runs, {}, queued_job(record, pr))
        if queued:
            wake(svc.jobs)
        log.warning("validation %s had no job: queued again", record.id, extra={"repo": record.repo})
        return queued
    decision: Run | Hold = Run("resumed")
    if record.state == "held":
        decision = hold or Hold("Waiting for a maintainer's approval: comment `/codegen ok-to-test`.")
    await start(svc, gh, record, pr, config, decision, look_first=True)
    log.warning("validation %s had no check runs recorded: adopted or created", record.id,
                extra={"repo": record.repo})
    return True


# --- the reconciler's tasks -------------------------------------------------------------------------------
async def reconcile_stuck(svc: ValidationService) -> int:
    repairs = 0
    for stuck in await svc.store.without_live_job():
        try:
            repairs += await _unstick(svc, stuck)
        except Exception:
            log.exception("could not repair validation %s", stuck.id)
    return repairs


async def _unstick(svc: ValidationService, stuck: ValidationRecord) -> int:
    async with svc.pr_lock(stuck.repo, stuck.pr_number):
        record = await svc.store.get(stuck.id)  # the lock's holder may have finished it meanwhile
        if record is None or record.state not in ("queued", "running") or await svc.store.has_live_job(record.id):
            return 0
        gh = svc.github.installation(record.installation_id)
        owner, name = record.owner_repo
        pr = await _pull(gh, owner, name, record.pr_number) if record.queue_base is None else _queue_pull(record)
        if pr is None or pr.get("state") != "open" or pr["head"]["sha"] != record.head_sha:
            await svc.store.update(record.id, state="cancelled", finished_at=time.time())
            record = await check_run_set.with_ids(gh, svc.store, record)
            await check_run_set.conclude_open(gh, svc.store, record, "cancelled", "Cancelled",
                                              "The pull request moved on (a newer commit, or it was closed).")
            return 1
        loaded = await svc.config.load(owner, name, pr["base"]["ref"], installation_id=record.installation_id)
        if loaded.config is None:
            await end_failed(svc, gh, record, "Invalid .github/codegen.yml",
                             "The config in force has errors; see the `codegen/config` check run.")
            return 1
        return int(await resume(svc, gh, record, pr, loaded.config, None))


def _queue_pull(record: ValidationRecord) -> dict[str, Any] | None:
    """A merge-queue commit's stand-in for its pull request while the queue may still wait for it (one hour,
    GitHub's default time a queue waits for checks): None (cancel) after that."""
    if time.time() - record.created_at > QUEUE_WAITS:
        return None
    return {"number": None, "state": "open", "head": {"sha": record.head_sha, "ref": record.head_ref},
            "base": {"ref": record.queue_base}}


async def _pull(gh: GitHubAPI, owner: str, name: str, number: int | None) -> dict[str, Any] | None:
    if number is None:
        return None
    try:
        pr: dict[str, Any] = await gh.getitem("/repos/{owner}/{repo}/pulls/{pull_number}",
                                              {"owner": owner, "repo": name, "pull_number": number})
    except BadRequest as exc:
        if exc.status_code != 404:
            raise
        return None
    return pr


async def reconcile_check_runs(svc: ValidationService) -> int:
    now, repairs = time.time(), 0
    for record in await svc.store.with_open_check_runs(ended_before=now - SETTLE_SECONDS,
                                                       ended_after=now - LOOK_BACK):
        gh = svc.github.installation(record.installation_id)
        try:
            repairs += await check_run_set.conclude_open(
                gh, svc.store, record, "cancelled", "Interrupted",
                f"{INTERRUPTED}: this check run was left unfinished (the bot stopped while it ran).")
        except Exception:
            log.exception("could not conclude the check runs of validation %s", record.id)
    return repairs


async def on_exhausted(svc: ValidationService, job: Job, error: str) -> None:
    record = await svc.store.get(str(job.payload.get("validation_id")))
    if record is None:
        return
    async with svc.pr_lock(record.repo, record.pr_number):
        record = await svc.store.get(record.id)
        if record is None or record.state not in ("queued", "running"):
            return
        gh = svc.github.installation(record.installation_id)
        await end_failed(svc, gh, record, "Interrupted",
                         f"The validation was interrupted after {job.attempts} attempts (`{error}`); press Re-run.",
                         conclusion="cancelled")
        log.warning("validation %s gave up after %d attempts", record.id, job.attempts, extra={"repo": record.repo})


async def reconcile_open_prs(svc: ValidationService) -> int:
    validated = 0
    for repo, installation_id in await svc.store.active_repos(time.time() - ACTIVE_FOR):
        try:
            validated += await _open_prs_of(svc, repo, installation_id)
        except Exception:
            log.exception("could not reconcile the open pull requests of %s", repo)
    return validated


async def _open_prs_of(svc: ValidationService, repo: str, installation_id: int) -> int:
    """One request per repository (a 304 when nothing changed); one more per head the store does not know."""
    owner, name = repo.split("/", 1)
    gh = svc.github.installation(installation_id)
    pulls = [pr async for pr in gh.getiter("/repos/{owner}/{repo}/pulls{?state,per_page}",
                                           {"owner": owner, "repo": name, "state": "open", "per_page": 100})]
    known = await svc.store.known_shas(repo, [pr["head"]["sha"] for pr in pulls])
    validated = 0
    for pr in pulls:
        sha = pr["head"]["sha"]
        if sha in known or (repo, sha) in svc.examined:
            continue
        svc.examined.add((repo, sha))
        if any(str(run.get("name", "")).startswith("codegen/")
               for run in await check_runs.list_for_ref(gh, owner, name, sha)):
            continue  # the bot saw this head (its check runs are there), only the store forgot it
        loaded = await svc.config.load(owner, name, pr["base"]["ref"], installation_id=installation_id)
        if loaded.config is None:
            continue
        record = await svc.request(gh, repo=repo, pr=pr, installation_id=installation_id, trigger="reconcile",
                                   config=loaded.config)
        if record is not None:
            log.warning("validating %s#%s at %s: the bot never saw this head", repo, pr["number"], sha[:12])
            validated += 1
    return validated
