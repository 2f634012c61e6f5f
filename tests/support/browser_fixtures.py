"""pytest fixtures (registered in tests/conftest.py): the real Chromium for web evaluation.

chromium   the path of Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium). Missing: skipped on a
           developer machine, a FAILURE when CI=true (`make test` installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium is required in CI ({CHROMIUM}); `make test` installs it", pytrace=False)
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return CHROMIUM
