"""pytest fixtures (registered in tests/conftest.py): the fake Codegen API.

fake_codegen   a started FakeCodegen (tests/fakes/codegen.py). At teardown the test fails if the fake saw
               a request (or sent an answer) that Codegen's OpenAPI description does not allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.fakes.codegen import FakeCodegen
from tests.fakes.contract import fail_on_violations


@pytest_asyncio.fixture
async def fake_codegen() -> AsyncIterator[FakeCodegen]:
    fake = FakeCodegen()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    fail_on_violations("Codegen", fake.violations)
