"""A test's missing requirement (Docker, the browser image, root): a skip on a developer's machine, a failure
under CI=true, where everything the tests need must be there."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str, *, in_ci: str) -> None:
    """Skip with `reason`, or fail with `in_ci` when CI=true. Never returns."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(in_ci, pytrace=False)
    pytest.skip(reason)
