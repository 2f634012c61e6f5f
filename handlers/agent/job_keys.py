"""The durable jobs of an agent run: their kinds and keys (at most one queued or running job per key)."""

from __future__ import annotations

START, RESUME, POLL = "agent_run.start", "agent_run.resume", "agent_run.poll"
#: a run's job keys are one of these followed by the run's id
START_PREFIX, RESUME_PREFIX, POLL_PREFIX = "agent_start:", "agent_resume:", "agent_run:"
KEY_PREFIXES = (START_PREFIX, RESUME_PREFIX, POLL_PREFIX)


def poll_key(run_id: int) -> str:
    return f"{POLL_PREFIX}{run_id}"


def start_key(run_id: int) -> str:
    return f"{START_PREFIX}{run_id}"


def resume_key(run_id: int) -> str:
    return f"{RESUME_PREFIX}{run_id}"
