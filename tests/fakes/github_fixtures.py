"""pytest fixtures (registered in tests/conftest.py): the fake GitHub.

fake_github   a started FakeGitHub (tests/fakes/github.py), function-scoped. At teardown the test
              fails if the fake saw any contract violation outside `fake_github.allow_violations()`:
              a request GitHub would reject, or a response the fake should never have sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.fakes.github import FakeGitHub


@pytest_asyncio.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    if fake.violations:
        report = "\n".join(f"  - {v}" for v in fake.violations)
        pytest.fail(
            f"the fake GitHub saw {len(fake.violations)} contract violation(s):\n{report}", pytrace=False
        )
