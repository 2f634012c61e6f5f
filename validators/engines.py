"""Which of a replica's Docker engines a validation runs on (`place`, pure). The engines come from
`DOCKER_HOSTS` (config/docker_hosts.py); the pool that holds their clients and slots is
validators/engine_pool.py, and what differs on an engine of another host is validators/engine_host.py.

Placement: among the engines that are up and have a free slot, the least loaded (running / slots), then the one
with most free slots, then the first listed. An engine that does not answer is left out for a while (the
pool's `DOWN_SECONDS`); with none up, the validation fails to prepare (and says Docker is unreachable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.docker_hosts import EngineSpec, default_spec, parse_docker_hosts

__all__ = ["EngineSpec", "Load", "default_spec", "parse_docker_hosts", "place"]


@dataclass(frozen=True)
class Load:
    slots: int
    running: int
    up: bool = True


def place(loads: Sequence[Load]) -> int | None:
    """The index of the engine a new validation runs on, None when no engine that is up has a free slot."""
    free = [i for i, load in enumerate(loads) if load.up and load.running < load.slots]
    if not free:
        return None
    return min(free, key=lambda i: (loads[i].running / loads[i].slots, loads[i].running - loads[i].slots, i))
