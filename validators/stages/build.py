"""The `build` stage: `snapshot.setup` then `snapshot.build` commands, in the container.

Between the two the snapshot's way out is cut when `snapshot.network` is `setup-only` (the default):
`setup` installs dependencies from the registries, `build` and later stages reach nothing outside.
`build` commands get the request's secrets (`snapshot.secrets`) in their environment; `setup` never does.

With `snapshot.cache_setup` the stage goes through validators/stages/cached_build.py (setup reused or kept
as an image); the container itself — image or Dockerfile — is prepared in validators/stages/container.py.
"""

from __future__ import annotations

from validators.outcome import StageOutcome
from validators.request import ValidationRequest
from validators.snapshot import Snapshot
from validators.stages.cached_build import SetupCache, cached_build
from validators.stages.commands import run_commands, stage_outcome
from validators.stages.skips import nothing_to_run
from validators.steps import StageResult


async def run_build(snapshot: Snapshot, cached: SetupCache | None, req: ValidationRequest,
                    deadline: float) -> StageOutcome:
    snap = req.config.snapshot
    commands = [*snap.setup, *snap.build]
    if not commands:
        return nothing_to_run("build")
    if cached is not None:
        return await cached_build(snapshot, cached, req, deadline)
    step_timeout = snap.step_timeout_minutes * 60
    setup = await run_commands(snapshot, "build", list(snap.setup), step_timeout=step_timeout, deadline=deadline)
    await snapshot.end_setup()
    if setup.status != "success" or not snap.build:
        return stage_outcome("build", setup)
    build = await run_commands(snapshot, "build", list(snap.build), step_timeout=step_timeout, deadline=deadline,
                               env=req.secrets)
    return stage_outcome("build", StageResult("build", build.status, [*setup.steps, *build.steps],
                                              setup.duration + build.duration))
