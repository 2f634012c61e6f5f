"""pytest fixture (registered in tests/conftest.py): a second Docker engine, for the DOCKER_HOSTS tests.

second_engine   the endpoint (`unix://...`) of a second dockerd started by `scripts/ensure-second-docker.sh`
                in its own network namespace (so the bot cannot reach its containers' addresses, as with a
                remote host), with the base image loaded from the first engine. Session-scoped; the engine is
                left running (the next session reuses it). When it cannot start: a skip on a developer's
                machine, a failure under CI=true.
Nothing is removed at the end: each test removes what it made, by its own bot-instance label, so a
concurrent session's containers are never touched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import docker
import pytest

from tests.support.docker_fixtures import ROOT
from tests.support.required import unavailable


@pytest.fixture(scope="session")
def second_engine(docker_client: docker.DockerClient) -> Iterator[str]:
    run = subprocess.run([str(ROOT / "scripts" / "ensure-second-docker.sh")], capture_output=True, text=True)
    endpoint = run.stdout.strip().splitlines()[-1] if run.returncode == 0 and run.stdout.strip() else ""
    if not endpoint:
        unavailable(f"no second Docker engine: {run.stderr[-1500:]}",
                    in_ci=f"the second Docker engine is required in CI: {run.stderr[-1500:]}")
    client = docker.DockerClient(base_url=endpoint, timeout=120)
    try:
        client.ping()
    except Exception as exc:
        unavailable(f"the second Docker engine does not answer: {exc}",
                    in_ci=f"the second Docker engine is required in CI and does not answer: {exc}")
    finally:
        client.close()
    yield endpoint
