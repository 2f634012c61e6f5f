"""A validation's check runs on GitHub: one set per record, found again after a crash, each concluded once.

- `bodies()`: what each stage's check run is created with (`queued`; `action_required` with **Approve and
  run** for held code; `codegen/web-eval` concluded at once when it is not configured). Every body carries
  `external_id` = the record's id.
- `ensure()`: the set's ids. A new record's check runs are created at once; a record that a crash left
  without ids (`look_first`) first lists the commit's check runs (one request) and adopts those whose
  `external_id` is its id, creating only the missing ones: a set is never created twice for one record.
- The store keeps, per stage, the conclusion its check run was given (`reported`), written `SENDING` before
  a conclusion is sent and the conclusion once GitHub answered. A stage absent from it was never
  concluded; only a `SENDING` one (a crash between the two writes), or a record older than this
  bookkeeping, makes `concluded_on_github()` read the commit's check runs (one request).
- `conclude_open()`: concludes the stages not yet concluded, records them in the store, and never touches
  a completed check run (GitHub appends annotations; a concluded run keeps its own conclusion).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.github import check_runs
from bot.github.check_run_reporter import RERUN, SENDING, finished_body, now_iso
from bot.store.validations import ValidationRecord, ValidationStore
from config.schema import RepoConfig
from handlers.validation.gate import Hold, Run
from validators.outcome import CHECK_NAMES, STAGES
from validators.stages.skips import NO_WEB_EVAL, skipped

APPROVE = {"label": "Approve and run", "description": "Run this commit's code", "identifier": "ok-to-test"}
#: what an interrupted validation's unfinished check runs say
INTERRUPTED = "Interrupted; press Re-run"


def stages_for(config: RepoConfig) -> list[str]:
    """Every stage gets its check run; `codegen/web-eval` says how to enable it when it is not configured."""
    return [*STAGES, "web-eval"]


def bodies(record: ValidationRecord, config: RepoConfig, decision: Run | Hold,
           pull_url: str | None = None) -> dict[str, dict[str, Any]]:
    """Pure: stage → the body its check run is created with."""
    def body(stage: str) -> dict[str, Any]:
        base: dict[str, Any] = {"name": CHECK_NAMES[stage], "head_sha": record.head_sha, "external_id": record.id}
        if isinstance(decision, Hold):
            held = {"details_url": pull_url} if pull_url else {}  # where a maintainer says ok-to-test
            return {
                **base, **held, "status": "completed", "conclusion": "action_required", "completed_at": now_iso(),
                "output": check_runs.output("Waiting for a maintainer's approval", decision.reason),
                "actions": [APPROVE],
            }
        if stage == "web-eval" and not config.web_eval.enabled:  # concluded at once: one request, not two
            return {**base, **finished_body(skipped("web-eval", NO_WEB_EVAL), offer_fix=False)}
        return {**base, "status": "queued",
                "output": check_runs.output("Queued", f"Validation of `{record.head_sha[:12]}` is queued.")}

    return {stage: body(stage) for stage in stages_for(config)}


async def ensure(gh: GitHubAPI, owner: str, repo: str, record: ValidationRecord,
                 sent: dict[str, dict[str, Any]], *, look_first: bool) -> tuple[dict[str, int], dict[str, str]]:
    """The record's check runs, created where missing: (stage → id the validation reports to, stage →
    conclusion of those created concluded). Held code's check runs are all the validation's (cancelled with
    it), although concluded; a skipped `codegen/web-eval` is not."""
    found = {s: int(run["id"]) for s, run in (await find(gh, owner, repo, record, sent)).items()} if look_first else {}
    missing = [stage for stage in sent if stage not in found]
    created = await asyncio.gather(*(check_runs.create(gh, owner, repo, sent[stage]) for stage in missing))
    found.update({stage: int(run["id"]) for stage, run in zip(missing, created, strict=True)})
    held = all(body.get("conclusion") == "action_required" for body in sent.values())
    ids = {stage: found[stage] for stage, body in sent.items() if body["status"] != "completed" or held}
    reported = {stage: str(body["conclusion"]) for stage, body in sent.items() if body["status"] == "completed"}
    return ids, reported


async def find(gh: GitHubAPI, owner: str, repo: str, record: ValidationRecord,
               stages: Iterable[str] = CHECK_NAMES) -> dict[str, dict[str, Any]]:
    """Stage → the record's check run on GitHub: the one whose `external_id` is its id (one request)."""
    names = {CHECK_NAMES[stage]: stage for stage in stages}
    found: dict[str, dict[str, Any]] = {}
    for run in await check_runs.list_for_ref(gh, owner, repo, record.head_sha):
        stage = names.get(run.get("name", ""))
        if stage is not None and run.get("external_id") == record.id:
            found.setdefault(stage, run)
    return found


async def with_ids(gh: GitHubAPI, store: ValidationStore, record: ValidationRecord) -> ValidationRecord:
    """The record with its check-run ids: a crash before they were stored left them only on GitHub, where
    they are found (one request) and recorded, so that they can be concluded."""
    if record.check_runs or record.state == "held":
        return record
    owner, name = record.owner_repo
    found = await find(gh, owner, name, record)
    if not found:
        return record
    ids = {stage: int(run["id"]) for stage, run in found.items() if run.get("status") != "completed"}
    if not ids:  # every one concluded (none is the validation's to conclude)
        return record
    return (await store.record_check_runs(record.id, ids, {}, None))[0]


async def concluded_on_github(gh: GitHubAPI, owner: str, repo: str, record: ValidationRecord) -> dict[str, str]:
    """Stage → conclusion of the record's check runs that GitHub shows completed (one request)."""
    by_id = {check_run_id: stage for stage, check_run_id in record.check_runs.items()}
    done: dict[str, str] = {}
    for run in await check_runs.list_for_ref(gh, owner, repo, record.head_sha):
        stage = by_id.get(int(run["id"]))
        if stage is not None and run.get("status") == "completed":
            done[stage] = str(run.get("conclusion") or "neutral")
    return done


def unreported(record: ValidationRecord) -> list[str]:
    """The stages the store does not know as concluded (never sent, or sent without a recorded answer)."""
    reported = record.reported or {}
    return [stage for stage in record.check_runs if reported.get(stage, SENDING) == SENDING]


def unsure(record: ValidationRecord) -> bool:
    """Only GitHub knows whether some stage was concluded: its conclusion was sent but not recorded (or the
    record is older than this bookkeeping)."""
    return record.reported is None or any(record.reported.get(s) == SENDING for s in record.check_runs)


async def conclude_open(
    gh: GitHubAPI, store: ValidationStore, record: ValidationRecord, conclusion: str, title: str, summary: str,
) -> int:
    """Conclude the record's check runs not concluded yet; returns how many were. GitHub is read first only
    when the store is unsure (`unsure`)."""
    owner, name = record.owner_repo
    stages = unreported(record)
    if not stages:
        return 0
    already = await concluded_on_github(gh, owner, name, record) if unsure(record) else {}
    open_stages = [stage for stage in stages if stage not in already]
    await store.mark_reported(record.id, {**{s: already[s] for s in stages if s in already},
                                          **dict.fromkeys(open_stages, SENDING)})
    await conclude(gh, owner, name, [record.check_runs[s] for s in open_stages], conclusion, title, summary)
    await store.mark_reported(record.id, dict.fromkeys(open_stages, conclusion))
    return len(open_stages)


async def conclude(gh: GitHubAPI, owner: str, repo: str, ids: Iterable[int], conclusion: str, title: str,
                   summary: str) -> None:
    body = {"status": "completed", "conclusion": conclusion, "completed_at": now_iso(),
            "output": check_runs.output(title, summary), "actions": [RERUN]}
    await asyncio.gather(*(check_runs.update(gh, owner, repo, check_run_id, body) for check_run_id in ids))
