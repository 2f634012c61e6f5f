"""pytest fixtures (registered in tests/conftest.py): a real Docker engine and the snapshot base image.

docker_client   a docker.DockerClient (session-scoped). When no engine answers or the base image is
                missing, `scripts/ensure-docker.sh` is run once (it installs, starts and builds what is
                missing). If Docker is still unavailable the test is skipped on a developer machine but
                FAILS when CI=true: in CI a missing Docker is a broken environment, never a skip.
base_image      the locally built image name (CODEGEN_BOT_BASE_IMAGE, default codegen-bot-base:bookworm).
At the end of the session every container left with the snapshot label is removed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.support.required import unavailable
from validators.snapshot import cleanup_leftovers

ROOT = Path(__file__).resolve().parent.parent.parent
BASE_IMAGE = os.environ.get("CODEGEN_BOT_BASE_IMAGE", "codegen-bot-base:bookworm")


def _unavailable(reason: str) -> None:
    unavailable(f"Docker unavailable: {reason}", in_ci=f"Docker is required in CI: {reason}")


def _ready() -> docker.DockerClient | None:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        client.images.get(BASE_IMAGE)
        return client
    except Exception:
        return None


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = _ready()
    if client is None:
        run = subprocess.run([str(ROOT / "scripts" / "ensure-docker.sh")], capture_output=True, text=True)
        client = _ready()
        if client is None:
            _unavailable(f"scripts/ensure-docker.sh exited {run.returncode}: {run.stderr[-2000:]}")
    assert client is not None
    yield client
    cleanup_leftovers(client)
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    return BASE_IMAGE
