"""pytest fixtures (registered in tests/conftest.py): the fake GitHub.

fake_github   a started FakeGitHub (tests/fakes/github.py), function-scoped. At teardown the test
              fails if the fake saw any contract violation outside `fake_github.allow_violations()`:
              a request GitHub would reject, or a response the fake should never have sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.contract import fail_on_violations
from tests.fakes.github import FakeGitHub


@pytest_asyncio.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    fail_on_violations("GitHub", fake.violations)
