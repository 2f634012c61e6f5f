"""The operator's caps on what a repository's config may ask of a snapshot (a pure function).

A repository's `snapshot.resources` (CPUs, memory) and timeouts are requests; the operator's
SNAPSHOT_MAX_CPUS, SNAPSHOT_MAX_MEMORY and SNAPSHOT_MAX_MINUTES decide. A request above a cap is lowered
to it, and the step timeout never exceeds the whole validation's.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.schema import RepoConfig, parse_size


@dataclass(frozen=True)
class SnapshotCaps:
    cpus: float
    memory: str
    minutes: int

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


def within_caps(config: RepoConfig, caps: SnapshotCaps) -> RepoConfig:
    snapshot = config.snapshot
    resources = snapshot.resources
    memory = resources.memory if resources.memory_bytes <= caps.memory_bytes else caps.memory
    timeout = min(snapshot.timeout_minutes, caps.minutes)
    capped = snapshot.model_copy(update={
        "resources": resources.model_copy(update={"cpus": min(resources.cpus, caps.cpus), "memory": memory}),
        "timeout_minutes": timeout,
        "step_timeout_minutes": min(snapshot.step_timeout_minutes, timeout),
    })
    return config.model_copy(update={"snapshot": capped})
