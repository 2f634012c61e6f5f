"""Turn a validation's stage events into check-run updates on GitHub (one check run per stage).

A stage's check run is marked `in_progress` only when the stage is still running `in_progress_after` seconds
(default 5) after it started: a stage that ends sooner goes from `queued` straight to `completed`, with its
real `started_at`, which spares one request of the installation's budget per fast stage (GitHub's rate
limits, issue 13). The reporter is closed when the validation ends, however it ends: a late timer never
marks a concluded check run `in_progress` again.

A retried or resumed validation names the stages whose check runs were already concluded (`concluded`):
they are neither marked `in_progress` nor sent again, because GitHub appends a PATCH's annotations to those
already there (issue 14). `on_reported(stage, SENDING)` is told before a stage's conclusion is sent and
`on_reported(stage, conclusion)` once GitHub has it: a crash between the two leaves `SENDING` in the
store, the one case where GitHub must be asked whether the stage was concluded.

A stage's conclusion is one PATCH: it carries at most 50 annotations (GitHub's limit per request; failures
first, then warnings, then notices) and the summary says how many more there were. More batches would be
more requests after the conclusion, and a crash between two of them could neither resend a batch (GitHub
appends it) nor tell which batches arrived.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.github import check_runs
from bot.runtime.faults import crash_point
from validators.outcome import StageOutcome

#: told when a stage's check run is being concluded (SENDING) and when it was: the stage and its conclusion
Reported = Callable[[str, str], Awaitable[None]]
#: a conclusion sent to GitHub whose answer was not recorded yet
SENDING = "sending"

#: the buttons a finished stage's check run offers (GitHub allows 3; labels ≤ 20 chars)
RERUN = {"label": "Re-run", "description": "Validate this commit again", "identifier": "rerun"}
FIX = {"label": "Fix with Codegen", "description": "Send this failure to the agent", "identifier": "fix"}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: seconds a stage runs before its check run is marked in_progress
IN_PROGRESS_AFTER = 5.0


#: the order in which annotations are kept when a stage has more than one request can carry
_SEVERITY = {"failure": 0, "warning": 1, "notice": 2}


def attached_annotations(outcome: StageOutcome) -> tuple[list[dict[str, Any]], int]:
    """Pure: the annotations the conclusion carries (the most severe first) and how many are left out."""
    ranked = sorted(outcome.annotations, key=lambda a: _SEVERITY.get(a.level, 3))
    kept = ranked[: check_runs.ANNOTATIONS_PER_REQUEST]
    return [a.to_github() for a in kept], len(ranked) - len(kept)


def finished_body(outcome: StageOutcome, *, offer_fix: bool, started_at: str | None = None) -> dict[str, Any]:
    """Pure: the PATCH body that concludes a stage's check run (one request: see the module's docstring)."""
    summary = outcome.summary
    if outcome.duration:
        summary = f"{summary}\n\nTook {outcome.duration:.1f} s." if summary else f"Took {outcome.duration:.1f} s."
    annotations, left_out = attached_annotations(outcome)
    if left_out:
        summary = (f"{summary}\n\n" if summary else "") + (
            f"{left_out} more annotation(s) not attached (GitHub takes {check_runs.ANNOTATIONS_PER_REQUEST} per"
            " update; the most severe are shown).")
    actions = [RERUN]
    if offer_fix and not outcome.passed and outcome.conclusion != "cancelled":
        actions.append(FIX)
    body: dict[str, Any] = {"started_at": started_at} if started_at else {}
    return body | {
        "status": "completed",
        "conclusion": outcome.conclusion,
        "completed_at": now_iso(),
        "output": check_runs.output(
            outcome.title, summary or outcome.title, outcome.text, annotations,
        ),
        "actions": actions,
    }


class CheckRunReporter:
    def __init__(self, gh: GitHubAPI, owner: str, repo: str, check_run_ids: dict[str, int], *, offer_fix: bool,
                 in_progress_after: float = IN_PROGRESS_AFTER, concluded: Collection[str] = (),
                 on_reported: Reported | None = None) -> None:
        self.gh = gh
        self.owner = owner
        self.repo = repo
        self.ids = check_run_ids
        self.offer_fix = offer_fix
        self.in_progress_after = in_progress_after
        self._started: dict[str, str] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._sending: set[str] = set()
        self._done: set[str] = set()
        self._closed = False
        #: stages concluded before this reporter (a retried job): never reported again
        self.concluded = frozenset(concluded)
        self.on_reported = on_reported

    async def stage_started(self, stage: str) -> None:
        if self.ids.get(stage) is None or self._closed or stage in self.concluded:
            return
        self._started[stage] = now_iso()
        if self.in_progress_after <= 0:
            await self._mark_in_progress(stage)
            return
        self._timers[stage] = asyncio.create_task(self._mark_later(stage))

    async def _mark_later(self, stage: str) -> None:
        await asyncio.sleep(self.in_progress_after)
        if not self._closed and stage not in self._done:
            await self._mark_in_progress(stage)

    async def _mark_in_progress(self, stage: str) -> None:
        self._sending.add(stage)
        try:
            await check_runs.update(self.gh, self.owner, self.repo, self.ids[stage],
                                    {"status": "in_progress", "started_at": self._started[stage]})
        finally:
            self._sending.discard(stage)

    async def stage_finished(self, outcome: StageOutcome) -> None:
        check_run_id = self.ids.get(outcome.stage)
        if check_run_id is None or outcome.stage in self.concluded:
            return
        self._done.add(outcome.stage)
        timer = self._timers.pop(outcome.stage, None)
        if timer is not None:
            if outcome.stage not in self._sending:
                timer.cancel()  # still waiting: the check run goes from queued to completed at once
            await asyncio.wait([timer])  # an in_progress update under way lands before the completion
        body = finished_body(outcome, offer_fix=self.offer_fix, started_at=self._started.get(outcome.stage))
        if self.on_reported is not None:
            await self.on_reported(outcome.stage, SENDING)
        await check_runs.update(self.gh, self.owner, self.repo, check_run_id, body)
        # the crash-window tests stop here: GitHub has the stage, the store does not know yet
        crash_point("validation.stage.after")
        if self.on_reported is not None:
            await self.on_reported(outcome.stage, outcome.conclusion)

    async def close(self) -> None:
        """The validation ended (or was cancelled): no late in_progress update is sent."""
        self._closed = True
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
