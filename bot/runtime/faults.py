"""Crash points for the crash-window tests: test-only, off unless `CODEGEN_BOT_CRASH_AT` names them.

`crash_point("github.write.after")` ends the process at once (`os._exit(137)`, like a SIGKILL: no clean-up,
no `finally`) when the environment variable `CODEGEN_BOT_CRASH_AT` lists that name (comma-separated). A name
may carry `@N` to crash at its N-th pass instead of the first (`validation.stage.after@2`), and a subject
where the call names one (`github.write.after:codegen/config`: only after that check run's write). Production never
sets the variable; an unset variable costs one dictionary lookup per point.

Named points (where they are placed is documented next to each call):
- `github.write.after`       — after a GitHub write (comment, check run) answered, before it is recorded
- `codegen.create.after`     — after Codegen created a run, before the run id is recorded
- `validation.store.after`   — after a validation is stored, before its job is queued
- `validation.stage.after`   — in the middle of a validation, after a stage reported
"""

from __future__ import annotations

import logging
import os
import sys

ENV = "CODEGEN_BOT_CRASH_AT"
EXIT_CODE = 137

_passes: dict[str, int] = {}


def _armed() -> dict[str, int]:
    """name → the pass at which to crash, from the environment (read each time: tests set it per process)."""
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in os.environ.get(ENV, "").split(","))):
        name, _, nth = item.partition("@")
        armed[name] = int(nth) if nth.isdigit() else 1
    return armed


def crash_point(name: str, subject: str | None = None) -> None:
    """End the process here when the tests asked for it (see the module docstring). A point passed with a
    `subject` (a check run's name) can be armed for that subject alone: `github.write.after:codegen/config`."""
    if ENV not in os.environ:
        return
    armed = _armed()
    for key in (name, f"{name}:{subject}" if subject else None):
        if key is not None and key in armed:
            _count(key, armed[key])


def _count(name: str, at: int) -> None:
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == at:
        logging.getLogger(__name__).error("crash point %s reached: exiting as if killed", name)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_CODE)
