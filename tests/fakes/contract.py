"""What every fake's fixture does at teardown: fail the test on any contract violation it recorded."""

from __future__ import annotations

from collections.abc import Sequence

import pytest


def fail_on_violations(service: str, violations: Sequence[object]) -> None:
    if violations:
        report = "\n".join(f"  - {v}" for v in violations)
        pytest.fail(f"the fake {service} saw {len(violations)} contract violation(s):\n{report}", pytrace=False)
