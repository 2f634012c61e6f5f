"""The `test` stage: `snapshot.test` commands, in the container, after a passing `build` (with the request's
secrets in each command's environment)."""

from __future__ import annotations

from validators.outcome import StageOutcome
from validators.request import ValidationRequest
from validators.snapshot import Snapshot
from validators.stages.commands import run_commands, stage_outcome
from validators.stages.skips import nothing_to_run


async def run_test(snapshot: Snapshot, req: ValidationRequest, deadline: float) -> StageOutcome:
    snap = req.config.snapshot
    if not snap.test:
        return nothing_to_run("test")
    result = await run_commands(snapshot, "test", list(snap.test), step_timeout=snap.step_timeout_minutes * 60,
                                deadline=deadline, env=req.secrets)
    return stage_outcome("test", result)
