"""Issue 16, "done when": `docker compose up` starts the whole system and its health endpoint answers.

docker-compose.yml is started for real with deploy/compose.local.yml (images built locally from the Debian base
image, no registry; tests/support/compose.py), with deploy/compose.unprivileged.yml too when this Docker host
cannot start a privileged container. Checked: the nginx proxy answers `/healthz` with 200; both replicas run and
each answers `/healthz` itself; they migrated the PostgreSQL store and both are connected to it; each reaches the
Docker-in-Docker snapshot engine over TLS with the client certificates the engine generated, through the bot's
own code (DOCKER_HOSTS, validators.engine_pool.connect) and as the bot's user. The project is always taken down
with its volumes. Without Docker or Compose v2: skipped, a failure under CI=true (tests/support/required.py).

Slow: minutes from cold (images are built), under a minute warm (README, "Running in production").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.compose import ComposeProject, ensure_compose, privileged_works

BOTS = ("bot-a", "bot-b")
SERVICES = {*BOTS, "proxy", "postgres", "snapshots"}

HEALTHZ = """
import json, os, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{os.environ['PORT']}/healthz", timeout=10) as r:
    print(json.dumps({"status": r.status, "body": json.loads(r.read()), "replica": os.environ["REPLICA_ID"]}))
"""

ENGINE = """
import json, os
from config.docker_hosts import parse_docker_hosts
from validators.engine_pool import connect
(spec,) = parse_docker_hosts(os.environ["DOCKER_HOSTS"], 1, os.environ)
client = connect(spec)
print(json.dumps({"url": spec.url, "tls_verify": spec.tls_verify, "uid": os.getuid(),
                  "ping": client.ping(), "version": client.version()["Version"]}))
"""


@pytest.fixture(scope="module")
def system(docker_client: docker.DockerClient, base_image: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ComposeProject]:
    ensure_compose()
    directory: Path = tmp_path_factory.mktemp("codegen-compose")
    project = ComposeProject.create(directory, unprivileged=not privileged_works(base_image))
    try:
        project.up()
        yield project
    finally:
        project.down()


def test_the_proxy_answers_healthz(system: ComposeProject) -> None:
    status, body = system.wait_for_healthz()
    assert status == 200, f"GET /healthz through the proxy: {status} {body}\n{system.diagnostics()}"
    assert json.loads(body) == {"status": "ok", "app_configured": True}


def test_both_replicas_run_and_each_answers_healthz(system: ComposeProject) -> None:
    system.wait_for_healthz()
    assert system.running() == SERVICES, system.diagnostics()
    for bot in BOTS:
        answer = json.loads(system.python(bot, HEALTHZ))
        assert answer == {"status": 200, "body": {"status": "ok", "app_configured": True}, "replica": bot}


def test_the_replicas_share_the_postgresql_store(system: ComposeProject) -> None:
    system.wait_for_healthz()
    query = ("select string_agg(table_name, ',' order by table_name) from information_schema.tables "
             "where table_schema = 'public'")
    run = system.exec("postgres", "psql", "-U", "codegen", "-d", "codegen", "-Atc", query)
    assert run.returncode == 0, run.stderr
    tables = set(run.stdout.strip().split(","))
    assert {"deliveries", "jobs", "schema_version", "validations"} <= tables, tables
    # both replicas hold connections to it (their addresses on the project's network)
    connected = system.exec("postgres", "psql", "-U", "codegen", "-d", "codegen", "-Atc",
                            "select distinct host(client_addr) from pg_stat_activity "
                            "where datname = 'codegen' and client_addr is not null")
    addresses = {system.address(bot) for bot in BOTS}
    assert addresses <= set(connected.stdout.split()), (addresses, connected.stdout)


def test_each_replica_reaches_the_snapshot_engine_over_tls(system: ComposeProject) -> None:
    system.wait_for_healthz()
    for bot in BOTS:
        answer = json.loads(system.python(bot, ENGINE))
        assert answer["url"] == "tcp://snapshots:2376" and answer["tls_verify"] is True
        assert answer["ping"] is True and answer["version"], answer
        assert answer["uid"] != 0  # the bot's own user reads the client key the engine generated
