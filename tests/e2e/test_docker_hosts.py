"""DOCKER_HOSTS on real parts: one replica's validations spread over two Docker engines.

The second engine (`second_engine`, scripts/ensure-second-docker.sh) is a dockerd in its own network
namespace, listed as `?remote=true`: the bot cannot route to its containers, so its health check runs in a
probe container there and the snapshot firewall is installed on its host through the helper container
(validators/engine_host.py). Two validations at once, one slot per engine: one on each, both pass, deploy and
health check included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import docker
import pytest

from config.docker_hosts import parse_docker_hosts
from config.loader import load_text
from config.schema import RepoConfig
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.required import unavailable
from tests.support.tar import tar_of
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config
from validators import firewall
from validators.engine_host import EngineHost, probe
from validators.engine_pool import Engine, EnginePool
from validators.labels import INSTANCE_LABEL
from validators.outcome import StageOutcome
from validators.pipeline import NullListener, ValidationRequest, validate
from validators.snapshot import cleanup_leftovers
from validators.web_eval.container import BROWSER_IMAGE
from validators.web_eval.runner import evaluate

StartBot = Callable[..., Awaitable[RunningBot]]
PASSING = ("codegen/build", "codegen/test", "codegen/deploy", "codegen/analysis")
CONFIG = """
snapshot:
  image: {image}
  network: none
  build: ["test -f server.py"]
  test: ["python3 -c 'import server'"]
  deploy: python3 server.py
  port: 8000
  timeout_minutes: 5
health_check: {{path: /healthz, timeout_seconds: 60}}
"""
SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")
if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""


@pytest.fixture
def instance() -> str:
    return f"engines-{uuid.uuid4().hex[:8]}"


async def _validate_on(pool: EnginePool, image: str, instance: str, started: asyncio.Barrier) -> tuple[str, dict]:
    loaded = load_text(CONFIG.format(image=image))
    assert loaded.config is not None, loaded.errors
    async with pool.slot() as engine:
        await started.wait()  # both hold a slot at once: they cannot be on the same one-slot engine
        request = ValidationRequest(
            validation_id=uuid.uuid4().hex, repo="engines/app", sha="0" * 40, config=loaded.config,
            source_tar=tar_of({"server.py": SERVER}), changed_files={}, docker=engine.client(),
            extra_labels={INSTANCE_LABEL: instance},
            firewall_host=engine.firewall_host, health_probe=engine.health_probe)
        report = await validate(request)
        return engine.name, report.to_json()


async def test_two_validations_run_on_two_engines_and_both_pass(
    docker_client: docker.DockerClient, base_image: str, second_engine: str, instance: str
) -> None:
    specs = parse_docker_hosts(f"unix:///var/run/docker.sock?slots=1,{second_engine}?slots=1&remote=true", 2)
    pool = EnginePool(specs, instance)
    try:
        started = asyncio.Barrier(2)
        results = await asyncio.wait_for(asyncio.gather(
            _validate_on(pool, base_image, instance, started), _validate_on(pool, base_image, instance, started)),
            timeout=300)
        assert {name for name, _ in results} == {"unix:///var/run/docker.sock", second_engine}
        for name, report in results:
            assert report["passed"], (name, report)
            assert report["outcomes"]["deploy"]["conclusion"] == "success", (name, report)
            assert report["outcomes"]["deploy"]["details"]["health"]["status"] == 200
        assert [load.running for load in pool.loads()] == [0, 0]
        assert await pool.cleanup_leftovers(instance) == 0  # each validation removed what it made
    finally:
        await asyncio.to_thread(pool.close)


async def test_firewall_rules_go_to_the_remote_engines_host(second_engine: str, instance: str) -> None:
    """On the remote engine the rules are in *its* network namespace, and removed from there."""
    client = docker.DockerClient(base_url=second_engine, timeout=120)
    host = EngineHost(client, instance)
    bridge = f"cgb-t{uuid.uuid4().hex[:6]}"
    try:
        fw = host.firewall()
        await asyncio.to_thread(firewall.install, bridge, False, [], fw)
        there = {rule[rule.index("--comment") + 1] for chain, _ in firewall.CHAINS
                 for rule in firewall.rules_of(chain, fw)}
        here = {rule[rule.index("--comment") + 1] for chain, _ in firewall.CHAINS for rule in firewall.rules_of(chain)}
        assert firewall.TAG + bridge in there
        assert firewall.TAG + bridge not in here  # not this machine's (the engine has its own namespace)
        assert await asyncio.to_thread(cleanup_leftovers, client, instance, fw) == 0  # its bridge is gone: orphan
        assert not [rule for chain, _ in firewall.CHAINS for rule in firewall.rules_of(chain, fw)
                    if firewall.TAG + bridge in rule]
    finally:
        await asyncio.to_thread(host.close)
        client.close()


def test_an_engine_that_does_not_answer_is_left_out(second_engine: str) -> None:
    engine = Engine(parse_docker_hosts("unix:///nonexistent/docker.sock", 1)[0])
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises
        engine.ping()


async def test_one_replicas_pull_requests_spread_over_both_engines(
    fake_github: FakeGitHub, start_bot: StartBot, docker_client: docker.DockerClient, second_engine: str,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The bot with DOCKER_HOSTS of two one-slot engines: two pull requests at once each get one, both pass."""
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "dev", "write")
    hosts = f"unix:///var/run/docker.sock?slots=1,{second_engine}?slots=1&remote=true"
    bot = await start_bot(docker_hosts=hosts)
    scenario = Scenario(fake_github, bot, Project.of(tmp_path), inst.id)
    slow = config(test="sleep 4 && python3 test_app.py")  # long enough for both to hold their slot at once
    scenario.fake.set_file(REPO, ".github/codegen.yml", slow)
    shas = [scenario.project.commit({"app.py": APP, "test_app.py": TEST, "n.txt": str(n), ".github/codegen.yml": slow})
            for n in range(2)]
    numbers = [scenario.open_pull(sha, ["app.py", "n.txt"]) for sha in shas]
    caplog.set_level(logging.INFO, logger="handlers.validation.runner")
    await asyncio.gather(*(scenario.deliver_pull(number) for number in numbers))
    for sha in shas:
        runs = await scenario.wait_done(sha)
        assert {name: run.conclusion for name, run in runs.items()
                if name != "codegen/web-eval"} == dict.fromkeys(PASSING, "success"), runs
        assert "healthy" in runs["codegen/deploy"].output["title"]
    engines = {record.getMessage().rsplit(" ", 1)[-1] for record in caplog.records
               if "runs on Docker engine" in record.getMessage()}
    assert engines == {"unix:///var/run/docker.sock", second_engine}


class CuttableEngine:
    """A unix socket in front of an engine's: `cut()` closes it and every connection through it, which is what
    the bot sees when the engine's host dies (the engine itself goes on, and is cleaned up afterwards)."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target.removeprefix("unix://")
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_unix_server(self._handle, str(self.path))
        return f"unix://{self.path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()


class CutDuringTest(NullListener):
    def __init__(self, engine: CuttableEngine) -> None:
        self.engine = engine

    async def stage_started(self, stage: str) -> None:
        if stage == "test":
            asyncio.get_running_loop().call_later(1.5, self.engine.cut)


async def test_an_engine_that_dies_mid_validation_interrupts_it(
    docker_client: docker.DockerClient, base_image: str, second_engine: str, instance: str, tmp_path: Path
) -> None:
    engine = CuttableEngine(tmp_path / "engine.sock", second_engine)
    endpoint = await engine.start()
    client = await asyncio.to_thread(docker.DockerClient, base_url=endpoint, timeout=30)  # (the proxy is this loop's)
    direct = docker.DockerClient(base_url=second_engine, timeout=120)
    host = EngineHost(direct, instance)
    loaded = load_text(CONFIG.format(image=base_image).replace("test: [", "test: ['sleep 60', "))
    assert loaded.config is not None, loaded.errors
    try:
        request = ValidationRequest(
            validation_id=uuid.uuid4().hex, repo="engines/app", sha="0" * 40, config=loaded.config,
            source_tar=tar_of({"server.py": SERVER}), changed_files={}, docker=client,
            extra_labels={INSTANCE_LABEL: instance}, firewall_host=host.firewall(), health_probe=probe)
        report = (await asyncio.wait_for(validate(request, CutDuringTest(engine)), timeout=120)).to_json()
        assert not report["passed"]
        assert report["outcomes"]["build"]["conclusion"] == "success"
        for stage in ("test", "deploy", "web-eval"):
            assert report["outcomes"][stage]["title"] == f"{stage}: interrupted", report["outcomes"][stage]
            assert "stopped answering" in report["outcomes"][stage]["summary"]
    finally:
        assert await asyncio.to_thread(cleanup_leftovers, direct, instance, host.firewall()) >= 1  # what it left
        await asyncio.to_thread(host.close)
        client.close()
        direct.close()


async def test_browser_checks_run_on_the_remote_engine(
    docker_client: docker.DockerClient, chromium: str, second_engine: str, instance: str, tmp_path: Path
) -> None:
    """Deploy, health check and web-eval all on the engine the bot cannot route to: the browser container
    joins the snapshot's network there, driven through that engine's Docker API."""
    pool = EnginePool(parse_docker_hosts(f"{second_engine}?remote=true", 1), instance)
    loaded = load_text(CONFIG.format(image="codegen-bot-base:bookworm")
                       + "web_eval: {pages: [{path: /healthz, status: 200, text: ok}]}\n")
    assert loaded.config is not None, loaded.errors

    async def web_eval(base_url: str, config: RepoConfig, validation_id: str, *, network: str | None = None,
                       app_host: str | None = None, docker: docker.DockerClient | None = None) -> StageOutcome:
        async def save(name: str, data: bytes) -> str:
            (tmp_path / name.replace("/", "_")).write_bytes(data)
            return name

        return await evaluate(base_url, config.web_eval, save, chromium, 1, network=network, app_host=app_host,
                              docker=docker)

    try:
        async with pool.slot() as engine:
            if not await asyncio.to_thread(lambda: bool(engine.client().images.list(BROWSER_IMAGE))):
                unavailable(f"{BROWSER_IMAGE} is not on the second engine (scripts/ensure-second-docker.sh)",
                            in_ci=f"{BROWSER_IMAGE} is required on the second engine in CI")
            request = ValidationRequest(
                validation_id=uuid.uuid4().hex, repo="engines/app", sha="0" * 40, config=loaded.config,
                source_tar=tar_of({"server.py": SERVER}), changed_files={}, docker=engine.client(),
                extra_labels={INSTANCE_LABEL: instance}, web_eval=web_eval,
                firewall_host=engine.firewall_host, health_probe=engine.health_probe)
            report = (await validate(request)).to_json()
        assert report["outcomes"]["web-eval"]["conclusion"] == "success", report["outcomes"]["web-eval"]
        assert report["passed"], report
    finally:
        await asyncio.to_thread(pool.close)
