"""Run a snapshot's stages command by command: stop at the first failure, respect the deadline.

`run_stages` returns one `StageResult` per stage given: `success`, `failure` (a command exited non-zero
or timed out; `timed_out` marks a step stopped by its limit), or `skipped` (an earlier stage failed, or the
overall deadline passed before it started).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from validators.snapshot import StepResult


class Runner(Protocol):
    async def run(self, command: str, timeout: float, env: Mapping[str, str] | None = None) -> StepResult: ...


@dataclass(frozen=True)
class Stage:
    name: str
    commands: Sequence[str]


@dataclass
class StageResult:
    name: str
    status: str
    steps: list[StepResult] = field(default_factory=list)
    duration: float = 0.0


async def run_stages(
    snapshot: Runner,
    stages: Sequence[Stage],
    *,
    step_timeout: float,
    total_deadline: float,
    env: Mapping[str, str] | None = None,
) -> list[StageResult]:
    """`total_deadline` is a `time.monotonic()` value."""
    results: list[StageResult] = []
    failed = False
    for stage in stages:
        if failed:
            results.append(StageResult(stage.name, "skipped"))
            continue
        started = time.monotonic()
        result = StageResult(stage.name, "success")
        for command in stage.commands:
            remaining = total_deadline - time.monotonic()
            if remaining <= 1:
                result.steps.append(StepResult(command, None, "[codegen-bot] the validation's time limit"
                                               " (snapshot.timeout_minutes) was reached before this step",
                                               0.0, timed_out=True))
                result.status = "failure"
                break
            step = await snapshot.run(command, timeout=min(step_timeout, remaining), env=env)
            result.steps.append(step)
            if not step.ok:
                result.status = "failure"
                break
        result.duration = time.monotonic() - started
        failed = result.status != "success"
        results.append(result)
    return results
