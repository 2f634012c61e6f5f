"""docker-compose.yml (issue 16, item 4) says what the code reads: every variable it sets is a setting, the
replicas are told apart, the store is PostgreSQL, the engine endpoint parses, and no secret is written in it.
(No image registry is reachable here, so the file is checked, not started: README "Running in production".)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from config.docker_hosts import parse_docker_hosts
from config.settings import Settings

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
#: read by the image itself or by Docker, not by Settings
NOT_SETTINGS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "DOCKER_TLS_CERTDIR"}
SECRETS = ("GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "GITHUB_CLIENT_SECRET", "CODEGEN_API_TOKEN")


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded["services"]


def bots() -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in services().items() if spec.get("build") == "."}


def test_every_variable_given_to_a_replica_is_a_setting() -> None:
    known = {name.upper() for name in Settings.model_fields}
    for name, spec in bots().items():
        unknown = set(spec["environment"]) - known - NOT_SETTINGS
        assert not unknown, f"{name} sets variables the bot does not read: {unknown}"


def test_two_replicas_on_one_postgresql_store_and_one_snapshot_engine() -> None:
    replicas = bots()
    assert len(replicas) == 2
    assert len({spec["environment"]["REPLICA_ID"] for spec in replicas.values()}) == 2
    for spec in replicas.values():
        env = spec["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        (engine,) = parse_docker_hosts(env["DOCKER_HOSTS"], 2)
        assert engine.remote and engine.tls_verify and engine.url.startswith("tcp://snapshots:")
        # one artifacts directory for both: a link signed by one replica is served by the other
        assert any(v.startswith("artifacts:") and v.endswith(env["ARTIFACTS_DIR"]) for v in spec["volumes"])
        assert spec["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_the_proxy_spreads_over_both_replicas_and_nothing_secret_is_written_here() -> None:
    text = COMPOSE.read_text()
    upstream = re.search(r"upstream codegen_bot \{(.*?)\}", text, re.S)
    assert upstream is not None
    assert set(re.findall(r"server (\S+):8080", upstream.group(1))) == set(bots())
    for secret in SECRETS:
        assert not re.search(rf"^\s*{secret}\s*:", text, re.M), f"{secret} belongs in .env, not here"
    assert "${POSTGRES_PASSWORD:?" in text  # required from the environment, never a default
