"""The `deploy` stage: `snapshot.deploy` started in the background, then `health_check` polled at the app's
address on the snapshot's internal network (`Snapshot.app_url`; nothing is published on a host port; see
validators/health.py). The app's output is the stage's text either way. The app gets the request's secrets
in its environment (its exec's, not the container's).
"""

from __future__ import annotations

import time

from validators.health import wait_healthy
from validators.outcome import StageOutcome, StepRecord
from validators.request import ValidationRequest
from validators.snapshot import Snapshot
from validators.stages.commands import LOG_TAIL
from validators.stages.skips import skipped


async def run_deploy(req: ValidationRequest, snapshot: Snapshot, deadline: float) -> StageOutcome:
    snap = req.config.snapshot
    if not snap.deploy:
        return skipped("deploy", "Nothing to run: `.github/codegen.yml` sets no `deploy` command.")
    check = req.config.health_check
    started = time.monotonic()
    await snapshot.start_background(snap.deploy, env=req.secrets)
    if snapshot.app_url is None:
        return StageOutcome("deploy", "failure", "deploy: the app has no address",
                            "The snapshot has no address on its app network.")
    url = f"{snapshot.app_url}{check.path}"
    timeout = max(1.0, min(float(check.timeout_seconds), deadline - time.monotonic()))
    if req.health_probe is not None:  # an engine on another host: from inside it (validators/engine_host.py)
        health = await req.health_probe(snapshot, url, timeout)
    else:
        health = await wait_healthy(url, timeout=timeout)
    logs = await snapshot.background_logs(tail=200)
    duration = time.monotonic() - started
    detail = f"`{snap.deploy}` started; `GET {check.path}` on port {snap.port}"
    if health.ok:
        return StageOutcome(
            "deploy", "success", f"deploy: healthy in {health.elapsed:.1f} s",
            f"{detail} answered {health.status} after {health.attempts} attempt(s).", text=logs or None,
            duration=duration, details={"health": {"status": health.status, "elapsed": health.elapsed}},
        )
    why = f"answered {health.status}" if health.status else (health.error or "no answer")
    return StageOutcome(
        "deploy", "failure", f"deploy: not healthy within {timeout:.0f} s",
        f"{detail} {why} (last of {health.attempts} attempt(s)). The app's output is below.",
        text=logs or "(the deploy command printed nothing)", duration=duration,
        steps=[StepRecord(snap.deploy, None, round(duration, 3), False, logs[-LOG_TAIL:])], failing_step=0,
        details={"health": {"status": health.status, "error": health.error}},
    )
