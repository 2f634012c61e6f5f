"""The operator's caps win over a repository's `snapshot.resources` and timeouts (issue 12, item 12)."""

from __future__ import annotations

from config.schema import RepoConfig
from handlers.validation.limits import SnapshotCaps, within_caps

CAPS = SnapshotCaps(cpus=2, memory="1g", minutes=20)


def config(**snapshot: object) -> RepoConfig:
    return RepoConfig.model_validate({"snapshot": snapshot})


def test_requests_above_the_caps_are_lowered_to_them() -> None:
    greedy = config(resources={"cpus": 64, "memory": "512g"}, timeout_minutes=600, step_timeout_minutes=300)
    capped = within_caps(greedy, CAPS).snapshot
    assert (capped.resources.cpus, capped.resources.memory_bytes) == (2, 1024**3)
    assert (capped.timeout_minutes, capped.step_timeout_minutes) == (20, 20)


def test_requests_within_the_caps_are_kept() -> None:
    modest = config(resources={"cpus": 1, "memory": "512m"}, timeout_minutes=10, step_timeout_minutes=5)
    assert within_caps(modest, CAPS) == modest
