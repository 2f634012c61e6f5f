"""Attack family: images and their names (issue 12, items 7 and 8), on the real Docker engine.

- A repository names an image the operator never meant to run (a miner, a private image): refused by the
  allow-list before anything is pulled, for `snapshot.image` and for every `FROM`/`COPY --from` of
  `snapshot.dockerfile`.
- A repository names an image on a registry where the operator is logged in: before the fix docker-py sent
  the operator's credentials along (with every build, all of them). A fake registry here records every
  `Authorization` header it is sent.
- A Dockerfile build was unbounded (no time limit, no CPU or memory limit) and ran on Docker's default bridge
  (the host's ports one hop away); built images were never removed.
- `victim-org/app` and `victim/org-app` flattened to the same `victim-org-app`: one tenant started from the
  other's setup image and shared its dependency cache volumes.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from config.loader import load_text
from tests.support.tar import tar_of
from validators import image as image_module
from validators.image import BuildLimits, ImageBuildError, build_image, built_images, built_tag
from validators.image_policy import DEFAULT_ALLOWED_IMAGES
from validators.outcome import ValidationReport
from validators.pipeline import ValidationRequest, cache_volumes, validate
from validators.repo_key import repo_key
from validators.sandbox_network import SandboxNetwork
from validators.setup_cache import image_tag, setup_images

LIMITS = ("(cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) > /limits"
          " && (cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
          " >> /limits")


class Registry:
    """A fake registry on loopback (dockerd speaks plain HTTP to it): answers 401, records each request."""

    def __init__(self) -> None:
        seen: list[tuple[str, str | None]] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="registry"')
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def registry() -> Iterator[Registry]:
    fake = Registry()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def operator_client(registry: Registry, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[docker.DockerClient]:
    """A client like the bot's: `docker.from_env()` with the operator logged in to the registry."""
    login = base64.b64encode(b"operator:s3cret").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": login}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    client = docker.from_env(timeout=120)
    yield client
    client.close()


async def run(client: docker.DockerClient, config: str, files: dict[str, str], *, repo: str = "tenant/app",
              sha: str = "0" * 40, allowed: tuple[str, ...] = DEFAULT_ALLOWED_IMAGES) -> ValidationReport:
    loaded = load_text(config)
    assert loaded.config is not None, loaded.errors
    return await validate(ValidationRequest(
        validation_id=uuid.uuid4().hex, repo=repo, sha=sha, config=loaded.config, source_tar=tar_of(files),
        changed_files={}, docker=client, allowed_images=allowed))


def skipped_after_build(report: ValidationReport) -> bool:
    return all(report.outcomes[s].conclusion == "skipped" for s in ("test", "deploy", "web-eval"))


async def test_images_off_the_allow_list_are_refused_before_anything_is_pulled(
    docker_client: docker.DockerClient, base_image: str, registry: Registry
) -> None:
    refused = {
        "snapshot: {image: 'evil.example/miner:1', test: ['true']}": {},
        f"snapshot: {{image: '{registry.host}/private/app:1', test: ['true']}}": {},
        "snapshot: {dockerfile: Dockerfile, test: ['true']}": {"Dockerfile": f"FROM {registry.host}/x:1\n"},
        "snapshot: {dockerfile: docker/Dockerfile, test: ['true']}": {
            "docker/Dockerfile": f"FROM {base_image}\nCOPY --from=someone/tools:1 /bin/x /x\n"},
        "snapshot: {dockerfile: Dockerfile, test: ['true']}  # an ARG without a default": {
            "Dockerfile": "ARG BASE\nFROM ${BASE}\n"},
    }
    for config, files in refused.items():
        report = await run(docker_client, config, files)
        build = report.outcomes["build"]
        assert build.conclusion == "failure" and build.title == "build: image not allowed", (config, build)
        assert "SNAPSHOT_ALLOWED_IMAGES" in build.summary and "`python:*`" in build.summary
        assert skipped_after_build(report)
    assert registry.seen == []  # nothing was even asked of the registry
    allowed = await run(docker_client, "snapshot: {dockerfile: Dockerfile, test: [cat /etc/ok]}",
                        {"Dockerfile": f"FROM {base_image} AS base\nFROM base\nRUN echo fine > /etc/ok\n"})
    assert allowed.passed, allowed.to_json()["outcomes"]["build"]


async def test_pulls_and_builds_never_carry_the_operators_registry_credentials(
    operator_client: docker.DockerClient, registry: Registry
) -> None:
    allow = (*DEFAULT_ALLOWED_IMAGES, "127.0.0.1:*/**")
    pulled = await run(operator_client, f"snapshot: {{image: '{registry.host}/private/app:1', test: ['true']}}", {},
                       allowed=allow)
    assert pulled.outcomes["build"].title == "build: the image could not be pulled"
    built = await run(operator_client, "snapshot: {dockerfile: Dockerfile, test: ['true']}",
                      {"Dockerfile": f"FROM {registry.host}/private/base:1\n"}, allowed=allow)
    assert built.outcomes["build"].title == "build: the image could not be built", built.outcomes["build"]
    assert len(registry.seen) >= 2  # both really went to the registry
    assert [auth for _path, auth in registry.seen if auth] == []


def _host_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("203.0.113.1", 9))
        return str(sock.getsockname()[0])


PROBE = """
import socket, sys
for name, host, port in [("host", sys.argv[1], int(sys.argv[2])), ("gateway", "172.17.0.1", int(sys.argv[2])),
                         ("registry", "pypi.org", 443)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("OPEN", name)
    except OSError:
        print("BLOCKED", name)
"""


@pytest.fixture
def host_port() -> Iterator[int]:
    """A server on all of the host's addresses, as the bot's own (0.0.0.0:8080)."""
    server = socket.create_server(("0.0.0.0", 0))
    server.listen(50)
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


@pytest.mark.parametrize("policy", ["setup-only", "none"])
async def test_a_dockerfile_build_gets_the_snapshots_limits_and_network_policy(
    docker_client: docker.DockerClient, base_image: str, host_port: int, policy: str
) -> None:
    dockerfile = (f"FROM {base_image}\nCOPY nonce probe.py /probe/\nRUN {LIMITS}\n"
                  f"RUN python3 /probe/probe.py {_host_address()} {host_port} > /probe/result\n")
    config = (f"snapshot: {{dockerfile: Dockerfile, network: {policy}, test: ['cat /limits /probe/result'],"
              " resources: {cpus: 0.5, memory: 256m}}")
    report = await run(docker_client, config, {"Dockerfile": dockerfile, "probe.py": PROBE,
                                               "nonce": secrets.token_hex(8)})
    assert report.passed, report.to_json()["outcomes"]["build"]
    out = report.outcomes["test"].steps[0].output_tail.split()
    assert out[0] == "50000" and out[1] in ("100000", "268435456"), out  # cgroup v2 "50000 100000" or v1 "50000"
    assert "268435456" in out
    assert "OPEN host" not in " ".join(out) and ["BLOCKED", "host", "BLOCKED", "gateway"] == out[-6:-2], out
    assert out[-2:] == (["OPEN", "registry"] if policy == "setup-only" else ["BLOCKED", "registry"]), out


async def test_a_build_is_stopped_at_its_time_limit(docker_client: docker.DockerClient, base_image: str) -> None:
    network = await SandboxNetwork.create(docker_client, policy="none", labels={"codegen-bot.test": "build"})
    try:
        started = time.monotonic()
        with pytest.raises(ImageBuildError, match="did not finish within 5 s"):
            await build_image(docker_client, tar_of({"Dockerfile": f"FROM {base_image}\nCOPY n /n\nRUN sleep 600\n",
                                                     "n": secrets.token_hex(8)}),
                              "Dockerfile", f"codegen-bot-build/timeout-test:{secrets.token_hex(4)}",
                              network=network.build_network, limits=BuildLimits(1, 256 * 1024**2, timeout=5))
        assert time.monotonic() - started < 40
        assert docker_client.containers.list(all=True, filters={"network": network.build_network}) == []
    finally:
        await network.remove()


async def test_built_images_are_pruned_to_the_newest(
    docker_client: docker.DockerClient, base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_module, "KEEP_BUILT_PER_REPO", 1)
    repo = f"tenant/build-{secrets.token_hex(4)}"
    shas = [secrets.token_hex(20) for _ in range(2)]
    for sha in shas:
        report = await run(docker_client, "snapshot: {dockerfile: Dockerfile, test: ['true']}",
                           {"Dockerfile": f"FROM {base_image}\nRUN true\n"}, repo=repo, sha=sha)
        assert report.passed, report.to_json()["outcomes"]["build"]
    key = repo_key(repo)
    assert [tag for tag, _created in built_images(docker_client, key)] == [built_tag(key, shas[1])]
    docker_client.images.remove(built_tag(key, shas[1]))


async def test_repositories_whose_flattened_names_collide_share_no_cache(
    docker_client: docker.DockerClient, base_image: str
) -> None:
    n = secrets.token_hex(3)
    victim, attacker = f"victim-org{n}/app", f"victim/org{n}-app"  # both were `victim-org<n>-app`
    assert set(cache_volumes(victim)).isdisjoint(cache_volumes(attacker))
    assert image_tag(victim, "k") != image_tag(attacker, "k")
    assert cache_volumes(victim, 1) != cache_volumes(victim, 2)  # with the numeric id, the id decides
    setup = ("mkdir -p /opt/deps && if [ -e poison ]; then echo x > /opt/deps/poisoned;"
             " echo x > /root/.cache/pip/poisoned; fi")
    def config(test: str) -> str:
        return f"snapshot: {{image: {base_image}, cache_setup: true, setup: ['{setup}'], test: ['{test}']}}"

    clean = "test ! -e /opt/deps/poisoned && test ! -e /root/.cache/pip/poisoned"
    try:  # the same setup, env and manifests: the same cache key for both
        first = await run(docker_client, config("true"), {"poison": "", "requirements.txt": "flask\n"},
                          repo=attacker)
        assert first.passed, first.to_json()["outcomes"]["build"]
        second = await run(docker_client, config(clean), {"requirements.txt": "flask\n"}, repo=victim)
        assert second.passed, second.to_json()["outcomes"]["test"]  # no poisoned image, no poisoned volume
        assert "reused" not in second.outcomes["build"].summary
        assert len(setup_images(docker_client, victim)) == 1 and len(setup_images(docker_client, attacker)) == 1
        for repo in (victim, attacker):
            for volume in cache_volumes(repo):
                docker_client.volumes.get(volume)  # each has its own
    finally:
        for repo in (victim, attacker):
            for tag, _created in setup_images(docker_client, repo):
                docker_client.images.remove(tag, force=True)
            for volume in cache_volumes(repo):
                try:
                    docker_client.volumes.get(volume).remove(force=True)
                except docker.errors.NotFound:
                    pass


def test_the_allow_list_compares_docker_canonical_names() -> None:
    from validators.image_policy import allowed, dockerfile_images, parse_allowed

    default = parse_allowed(None)
    assert default == DEFAULT_ALLOWED_IMAGES
    for ok in ("python:3.12-slim", "python", "docker.io/library/python:3", "index.docker.io/library/node:20",
               "library/debian:12", "python@sha256:" + "a" * 64, "codegen-bot-base:bookworm"):
        assert allowed(ok, default), ok
    for bad in ("evil.example/python:3", "someone/python:3", "python.evil.example/x:1", "ubuntu:22.04",
                "localhost/python:3", "Python:3", "python:3/../x", "$BASE", ""):
        assert not allowed(bad, default), bad
    assert allowed("ghcr.io/acme/app@sha256:" + "b" * 64, parse_allowed("ghcr.io/acme/*"))
    assert not allowed("ghcr.io/acme/team/app:1", parse_allowed("ghcr.io/acme/*"))  # `*` stays in one component
    assert allowed("ghcr.io/acme/team/app:1", parse_allowed(" ghcr.io/acme/** , python:3.*"))
    assert not allowed("python:2.7", parse_allowed("ghcr.io/acme/**,python:3.*"))
    dockerfile = """# escape=\\
ARG BASE=python:3.12
FROM --platform=linux/amd64 $BASE AS build
RUN echo \\
  FROM evil/not-an-instruction
FROM build
COPY --from=build /a /b
COPY --from=0 /a /b
COPY --from=someone/tools:1 /x /y
FROM ${MISSING:-debian:12}
FROM scratch
"""
    assert dockerfile_images(dockerfile) == ["python:3.12", "someone/tools:1", "debian:12"]
