"""What the fake GitHub's own tests share: the repository they use, the `gh` fixture's value (see
conftest.py), and an independent check of an answer against GitHub's description."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.fakes.github import SPEC_PATH, FakeGitHub
from tests.fakes.openapi_check import OpenAPIChecker

REPO = "octo-org/widgets"


@dataclass
class Setup:
    fake: FakeGitHub
    client: httpx.AsyncClient  # authenticated with an installation token for REPO
    installation_id: int
    token: str


def independent_check(response: httpx.Response) -> None:
    """Re-check a response with a fresh checker, so the test does not trust the fake's own check."""
    request = response.request
    checker = OpenAPIChecker(SPEC_PATH)
    checker.check_response(
        request.method,
        request.url.raw_path.decode(),
        dict(request.headers),
        request.content,
        response.status_code,
        dict(response.headers),
        response.content,
    )
