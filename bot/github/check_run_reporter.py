"""Turn a validation's stage events into check-run updates on GitHub (one check run per stage)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.github import check_runs
from validators.outcome import StageOutcome

#: the buttons a finished stage's check run offers (GitHub allows 3; labels ≤ 20 chars)
RERUN = {"label": "Re-run", "description": "Validate this commit again", "identifier": "rerun"}
FIX = {"label": "Fix with Codegen", "description": "Send this failure to the agent", "identifier": "fix"}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finished_body(outcome: StageOutcome, *, offer_fix: bool) -> dict[str, Any]:
    """Pure: the PATCH body that concludes a stage's check run."""
    summary = outcome.summary
    if outcome.duration:
        summary = f"{summary}\n\nTook {outcome.duration:.1f} s." if summary else f"Took {outcome.duration:.1f} s."
    actions = [RERUN]
    if offer_fix and not outcome.passed and outcome.conclusion != "cancelled":
        actions.append(FIX)
    return {
        "status": "completed",
        "conclusion": outcome.conclusion,
        "completed_at": now_iso(),
        "output": check_runs.output(
            outcome.title, summary or outcome.title, outcome.text,
            [a.to_github() for a in outcome.annotations],
        ),
        "actions": actions,
    }


class CheckRunReporter:
    def __init__(self, gh: GitHubAPI, owner: str, repo: str, check_run_ids: dict[str, int], *, offer_fix: bool) -> None:
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.ids = check_run_ids
        self.offer_fix = offer_fix

    async def stage_started(self, stage: str) -> None:
        check_run_id = self.ids.get(stage)
        if check_run_id is None:
            return
        await check_runs.update(
            self.gh, self.owner, self.repo, check_run_id, {"status": "in_progress", "started_at": now_iso()}
        )

    async def stage_finished(self, outcome: StageOutcome) -> None:
        check_run_id = self.ids.get(outcome.stage)
        if check_run_id is None:
            return
        await check_runs.update(
            self.gh, self.owner, self.repo, check_run_id, finished_body(outcome, offer_fix=self.offer_fix)
        )
