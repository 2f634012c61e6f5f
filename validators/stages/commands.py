"""Stages made of the repository's shell commands (`build`, `test`): run them, and turn what they did into
the stage's outcome — a table of commands, and for a failure the failing step's title and output tail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from validators.outcome import StageOutcome, StepRecord
from validators.snapshot import Snapshot
from validators.stages.skips import EARLIER_STAGE_FAILED
from validators.steps import Stage, StageResult, run_stages

#: characters of a step's output kept in its outcome (the end of a log is where the error is)
LOG_TAIL = 20_000


async def run_commands(snapshot: Snapshot, stage: str, commands: Sequence[str], *, step_timeout: float,
                       deadline: float, env: Mapping[str, str] | None = None) -> StageResult:
    """Run one stage's commands in the container, stopping at the first failure or at `deadline`; `env` is
    added to each command's own environment (the operator's secrets: never the container's)."""
    (result,) = await run_stages(snapshot, [Stage(stage, commands)], step_timeout=step_timeout,
                                 total_deadline=deadline, env=dict(env) if env else None)
    return result


def stage_outcome(stage: str, result: StageResult) -> StageOutcome:
    steps = step_records(result)
    failing = next((i for i, s in enumerate(steps) if s.timed_out or s.exit_code not in (0, None)), None)
    lines = [f"| `{s.command}` | {step_status(s)} | {s.duration:.1f} s |" for s in steps]
    table = "| command | result | time |\n|---|---|---|\n" + "\n".join(lines) if lines else ""
    if result.status == "success":
        return StageOutcome(stage, "success", f"{stage}: {len(steps)} command(s) passed", table,
                            steps=steps, duration=result.duration)
    if result.status == "skipped":
        return StageOutcome(stage, "skipped", f"{stage}: skipped", EARLIER_STAGE_FAILED, duration=0.0)
    if result.status == "cancelled":
        return StageOutcome(stage, "cancelled", f"{stage}: cancelled", "A newer commit replaced this one.",
                            steps=steps, duration=result.duration)
    bad = steps[failing] if failing is not None else None
    conclusion = "timed_out" if bad is not None and bad.timed_out else "failure"
    title = f"{stage}: `{bad.command}` {step_status(bad)}" if bad else f"{stage}: failed"
    return StageOutcome(
        stage, conclusion, title, table, text=bad.output_tail if bad else None, steps=steps,
        duration=result.duration, failing_step=failing,
    )


def step_records(result: StageResult) -> list[StepRecord]:
    return [
        StepRecord(
            command=s.command, exit_code=s.exit_code, duration=round(s.duration, 3), timed_out=s.timed_out,
            output_tail=s.output[-LOG_TAIL:], oom_killed=getattr(s, "oom_killed", False),
        )
        for s in result.steps
    ]


def step_status(step: StepRecord) -> str:
    if step.timed_out:
        return "timed out"
    if step.oom_killed:
        return f"killed: out of memory (exit {step.exit_code})"
    return "passed" if step.exit_code == 0 else f"exit {step.exit_code}"
