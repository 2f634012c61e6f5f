"""Why a stage did not run: the `skipped` outcomes and their wording, shared by every stage.

A stage with nothing configured is `skipped` ("nothing runs that the file does not ask for"); a stage after
a failing one is `skipped` too, saying so.
"""

from __future__ import annotations

from validators.outcome import StageOutcome

EARLIER_STAGE_FAILED = "An earlier stage failed."
NO_WEB_EVAL = (
    "No browser checks configured. Add `web_eval.pages` (and `flows`) to `.github/codegen.yml` to have the"
    " deployed app's pages checked in Chromium (see docs/configuration.md)."
)
NOT_DEPLOYED = "The app was not deployed and healthy, so no page was checked."


def skipped(stage: str, why: str) -> StageOutcome:
    return StageOutcome(stage, "skipped", f"{stage}: skipped", why)


def nothing_to_run(stage: str) -> StageOutcome:
    """`build` or `test` (or any stage, when no container is needed) with no commands in the config."""
    return skipped(stage, f"Nothing to run: `.github/codegen.yml` sets no {stage} commands.")
