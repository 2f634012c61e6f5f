"""The `analysis` stage: tree-sitter over the changed files (see validators/analysis).

It needs no container and runs first, so a syntax error is reported within seconds even when the build
takes minutes.
"""

from __future__ import annotations

import asyncio
import time

from validators.analysis.run import analyze_files
from validators.outcome import StageOutcome
from validators.request import ValidationRequest
from validators.stages.skips import skipped


async def run_analysis(req: ValidationRequest) -> StageOutcome:
    started = time.monotonic()
    if not req.config.analysis.enabled:
        return skipped("analysis", "Code analysis is disabled (`analysis.enabled: false`).")
    result = await asyncio.to_thread(analyze_files, req.changed_files, req.config.analysis.languages)
    conclusion = result.conclusion if result.conclusion in ("success", "failure", "neutral") else "neutral"
    errors = sum(1 for a in result.annotations if a.level == "failure")
    warnings = sum(1 for a in result.annotations if a.level == "warning")
    title = f"analysis: {errors} syntax error(s), {warnings} warning(s)"
    return StageOutcome(
        "analysis", conclusion, title, result.summary_markdown(), annotations=list(result.annotations),
        duration=time.monotonic() - started,
    )
