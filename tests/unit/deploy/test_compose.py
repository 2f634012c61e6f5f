"""docker-compose.yml (issue 16, item 4) says what the code reads: every variable it sets is a setting, the
replicas are told apart, the store is PostgreSQL, the engine endpoint parses, and no secret is written in it.
deploy/compose.local.yml (the same system built without a registry) only swaps images. Started for real by
tests/e2e/test_compose_up.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from config.docker_hosts import parse_docker_hosts
from config.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
LOCAL = ROOT / "deploy" / "compose.local.yml"
#: read by the image itself or by Docker, not by Settings
NOT_SETTINGS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "DOCKER_TLS_CERTDIR"}
SECRETS = ("GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "GITHUB_CLIENT_SECRET", "CODEGEN_API_TOKEN")


class ComposeLoader(yaml.SafeLoader):
    """Compose's merge tags (`!override`, `!reset`) read as plain values."""


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


ComposeLoader.add_constructor("!override", _plain)
ComposeLoader.add_constructor("!reset", _plain)


def services(path: Path = COMPOSE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=ComposeLoader)  # a SafeLoader
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


def test_the_engine_certificate_names_the_host_the_bots_dial() -> None:
    engine = services()["snapshots"]
    (spec,) = parse_docker_hosts(next(iter(bots().values()))["environment"]["DOCKER_HOSTS"], 2)
    host = spec.url.removeprefix("tcp://").split(":")[0]
    assert f"DNS:{host}" in engine["environment"]["DOCKER_TLS_SAN"].split(",")
    assert "tcp://" + host in " ".join(engine["healthcheck"]["test"])  # checked as the bots dial it


def test_the_local_override_only_builds_the_images_here() -> None:
    """deploy/compose.local.yml replaces every registry image with a local build and changes nothing else but
    the proxy's published port (overridable, on 127.0.0.1)."""
    base, local = services(), services(LOCAL)
    assert set(local) == set(base)
    for name, spec in local.items():
        assert set(spec) <= {"image", "build", "ports"}, f"{name}: the override changes more than its image"
        assert spec["image"].startswith("codegen-compose-") and spec["image"].endswith(":local")
        if base[name].get("build") == ".":
            assert spec["build"]["context"] == "." and "BASE=codegen-bot-base:bookworm" in spec["build"]["args"]
        else:
            assert ":" in base[name]["image"] and (ROOT / spec["build"]["context"] / "Dockerfile").is_file()
    assert local["proxy"]["ports"] == ["127.0.0.1:${CODEGEN_PROXY_PORT:-8080}:8080"]
    assert "ARG BASE=python:3.11-slim-bookworm" in (ROOT / "Dockerfile").read_text()  # users' builds unchanged
