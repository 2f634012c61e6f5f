"""What a validation produces: one outcome per stage, and the report that gathers them.

Stages and their check-run names are public (branch protection and `merge.required_checks` name them):
`codegen/build` (setup + build commands), `codegen/test`, `codegen/deploy` (deploy + health check),
`codegen/analysis` (tree-sitter), `codegen/web-eval` (browser checks, when configured).

The report is plain data (JSON-serialisable): it is kept in the store, printed by `codegen-bot validate
--json`, and read by the auto-fix loop for the error context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from validators.annotations import Annotation

Conclusion = Literal["success", "failure", "neutral", "skipped", "cancelled", "timed_out", "action_required"]

STAGES = ("build", "test", "deploy", "analysis")
CHECK_NAMES = {stage: f"codegen/{stage}" for stage in (*STAGES, "web-eval")}


@dataclass
class StepRecord:
    command: str
    exit_code: int | None
    duration: float
    timed_out: bool
    output_tail: str
    oom_killed: bool = False


@dataclass
class StageOutcome:
    stage: str
    conclusion: Conclusion
    title: str
    summary: str
    text: str | None = None
    annotations: list[Annotation] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    duration: float = 0.0
    #: the failing step (index into steps) when the conclusion is failure/timed_out
    failing_step: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.conclusion in ("success", "neutral", "skipped")

    @property
    def user_time(self) -> float:
        return sum(step.duration for step in self.steps)


@dataclass
class ValidationReport:
    validation_id: str
    repo: str
    sha: str
    outcomes: dict[str, StageOutcome] = field(default_factory=dict)
    started_at: float = 0.0
    finished_at: float = 0.0
    #: config problems that stopped the validation before any stage ran (exit code 2 in the CLI)
    misconfigured: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.misconfigured and all(o.passed for o in self.outcomes.values())

    @property
    def user_time(self) -> float:
        return sum(o.user_time for o in self.outcomes.values())

    @property
    def wall_time(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    def failures(self) -> list[StageOutcome]:
        return [o for o in self.outcomes.values() if not o.passed]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["wall_time"] = round(self.wall_time, 3)
        data["user_time"] = round(self.user_time, 3)
        return data
