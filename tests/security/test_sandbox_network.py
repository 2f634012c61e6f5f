"""Attack family: a snapshot reaching what it must not (issue 12, item 6), on the real Docker engine.

Before the fix every snapshot sat on Docker's default bridge: a step could open the bot's own port (it listens
on 0.0.0.0:8080) through the bridge's gateway address, any other port of the host, other snapshots, cloud
metadata (169.254.169.254) and anything on a private network the host routes to. Each test here starts real
servers on those targets, proves the host itself reaches them (so "blocked" is not a dead target), then runs a
real validation whose steps try to connect to each of them with a 2 s timeout.

Targets: a server on the host's loopback, a server on 0.0.0.0 (the bridge gateways, docker0's address and
the host's own address), another snapshot's app, and in a network namespace made here, 169.254.169.254 and a
10.x address routed from the host. The registry (pypi.org:443) is the control for `snapshot.network`.
"""

from __future__ import annotations

import json
import secrets
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import docker
import pytest
import pytest_asyncio

from config.loader import load_text
from tests.support.tar import tar_of
from validators import firewall
from validators.health import wait_healthy
from validators.outcome import StageOutcome
from validators.pipeline import ValidationRequest, validate
from validators.sandbox_network import BRIDGE_OPTION, SandboxNetwork
from validators.snapshot import Snapshot, cleanup_leftovers

REGISTRY = ("pypi.org", 443)
PROBE = r'''
import json, socket, struct
targets = json.load(open("targets.json"))
seen = set()
for line in open("/proc/net/route").read().splitlines()[1:]:  # every gateway of every network it is on
    f = line.split()
    dest, gw = (socket.inet_ntoa(struct.pack("<L", int(x, 16))) for x in (f[1], f[2]))
    if gw != "0.0.0.0":
        seen.add(gw)
    elif dest != "0.0.0.0":
        seen.add(socket.inet_ntoa(struct.pack("!L", struct.unpack("!L", socket.inet_aton(dest))[0] + 1)))
targets += [["gateway", gw, targets[0][2]] for gw in sorted(seen)]
for name, host, port in targets:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("OPEN", name, host, port)
    except OSError as exc:
        print("BLOCKED", name, host, port, type(exc).__name__)
'''


class _Accept(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.close()


def _serve(host: str) -> tuple[socketserver.ThreadingTCPServer, int]:
    server = socketserver.ThreadingTCPServer((host, 0), _Accept)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def _host_address() -> str:
    """The host's own address towards the internet (eth0's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("203.0.113.1", 9))
        return str(sock.getsockname()[0])


def _sh(command: str) -> None:
    subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True)


@dataclass
class Targets:
    """(name, host, port); the first is the host's 0.0.0.0 server (the probe tries every gateway on its port)."""
    private: list[tuple[str, str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def private_network() -> Iterator[tuple[tuple[str, str, int], tuple[str, str, int]]]:
    """A network namespace routed from the host, serving on 169.254.169.254:80 and 10.213.<n>.2:80."""
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = f"cgbt-{tag}", f"cgbt{tag}h", f"cgbt{tag}n"
    octet = int(tag[:2], 16) % 250 + 1
    ten = f"10.213.{octet}.2"
    _sh(f"ip netns add {ns} && ip link add {host_if} type veth peer name {ns_if} && ip link set {ns_if} netns {ns}"
        f" && ip addr add 10.213.{octet}.1/30 dev {host_if} && ip link set {host_if} up"
        f" && ip -n {ns} addr add {ten}/30 dev {ns_if} && ip -n {ns} addr add 169.254.169.254/32 dev {ns_if}"
        f" && ip -n {ns} link set {ns_if} up && ip -n {ns} link set lo up"
        f" && ip route replace 169.254.169.254/32 dev {host_if}")
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, "python3", "-c",
         "import socketserver as s\nclass H(s.BaseRequestHandler):\n def handle(self): self.request.close()\n"
         "s.ThreadingTCPServer.allow_reuse_address = True\ns.ThreadingTCPServer(('0.0.0.0', 80), H).serve_forever()"])
    try:
        deadline = time.monotonic() + 10
        while not (_reachable(ten, 80) and _reachable("169.254.169.254", 80)) and time.monotonic() < deadline:
            time.sleep(0.2)
        yield ("metadata", "169.254.169.254", 80), ("private-10", ten, 80)
    finally:
        server.kill()
        server.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest_asyncio.fixture
async def targets(docker_client: docker.DockerClient, base_image: str,
                  private_network: tuple[tuple[str, str, int], tuple[str, str, int]]) -> AsyncIterator[Targets]:
    loopback, loop_port = _serve("127.0.0.1")
    anywhere, port = _serve("0.0.0.0")
    other = await Snapshot.create(docker_client, image=base_image, port=8000,
                                  labels={"codegen-bot.test": "other-snapshot"})
    try:
        await other.put_tree(tar_of({"index.html": "other tenant"}))
        await other.start_background("python3 -m http.server 8000")
        assert other.app_ip is not None
        found = Targets([
            ("host-anywhere", "172.17.0.1", port),  # (first: the probe adds every gateway on this port)
            ("host-address", _host_address(), port),
            ("host-loopback", "127.0.0.1", loop_port),
            ("other-snapshot", other.app_ip, 8000),
            private_network[0], private_network[1],
        ])
        assert (await wait_healthy(f"{other.app_url}/", timeout=20)).ok
        for name, host, target_port in found.private:  # the targets are alive: the host reaches each one
            assert _reachable(host, target_port), f"{name} {host}:{target_port} does not answer the host"
        yield found
    finally:
        await other.remove()
        for server in (loopback, anywhere):
            server.shutdown()
            server.server_close()


class Networks:
    """A listener that notes the validation's networks (and their firewall rules) while it runs."""

    def __init__(self, client: docker.DockerClient, validation_id: str) -> None:
        self.client, self.validation_id = client, validation_id
        self.bridges: list[str] = []
        self.names: list[str] = []
        self.published: list[object] = []

    async def stage_started(self, stage: str) -> None:
        if stage != "test":
            return
        label = f"codegen-bot.validation={self.validation_id}"
        for network in self.client.networks.list(filters={"label": label}):
            self.names.append(network.name)
            self.bridges.append((network.attrs.get("Options") or {})[BRIDGE_OPTION])
        for container in self.client.containers.list(filters={"label": label}):
            self.published.append(container.attrs["HostConfig"].get("PortBindings"))
            assert "bridge" not in container.attrs["NetworkSettings"]["Networks"]

    async def stage_finished(self, outcome: StageOutcome) -> None:
        return None


async def probe(client: docker.DockerClient, image: str, targets: Targets, policy: str,
                setup: bool = True) -> tuple[dict[str, list[str]], Networks]:
    """Run a validation whose `setup` (unless not `setup`) and `test` each run the probe; their lines."""
    all_targets = [[*t] for t in targets.private] + [["registry", *REGISTRY]]
    loaded = load_text(f"""
snapshot:
  image: {image}
  network: {policy}
  setup: {'["python3 probe.py"]' if setup else '[]'}
  test: ["python3 probe.py"]
  deploy: python3 -m http.server 8000
  port: 8000
health_check: {{timeout_seconds: 20}}
""")
    assert loaded.config is not None, loaded.errors
    validation_id = uuid.uuid4().hex
    seen = Networks(client, validation_id)
    report = await validate(ValidationRequest(
        validation_id=validation_id, repo="tenant/net-probe", sha="0" * 40, config=loaded.config,
        source_tar=tar_of({"probe.py": PROBE, "targets.json": json.dumps(all_targets)}), changed_files={},
        docker=client), seen)
    out = report.to_json()["outcomes"]
    assert report.outcomes["deploy"].conclusion == "success", out["deploy"]  # the bot still reaches the app
    lines = {stage: [line for step in out[stage]["steps"] for line in step["output_tail"].splitlines()]
             for stage in ("build", "test")}
    return lines, seen


def opened(lines: list[str]) -> set[str]:
    return {line.split()[1] for line in lines if line.startswith("OPEN")}


def probed(lines: list[str]) -> set[str]:
    return {line.split()[1] for line in lines if line.startswith(("OPEN", "BLOCKED"))}


EVERY = {"host-anywhere", "host-address", "host-loopback", "other-snapshot", "metadata", "private-10", "gateway",
         "registry"}


def assert_removed(client: docker.DockerClient, seen: Networks) -> None:
    assert seen.bridges and seen.published in ([None], [{}]), seen.published  # no port published on the host
    for name in seen.names:
        with pytest.raises(docker.errors.NotFound):
            client.networks.get(name)
    left = {rule[rule.index("--comment") + 1] for chain, _ in firewall.CHAINS for rule in firewall.rules_of(chain)}
    assert not {firewall.TAG + bridge for bridge in seen.bridges} & left


async def test_setup_only_reaches_the_registry_in_setup_and_nothing_private_ever(
    docker_client: docker.DockerClient, base_image: str, targets: Targets
) -> None:
    lines, seen = await probe(docker_client, base_image, targets, "setup-only")
    assert probed(lines["build"]) == EVERY and probed(lines["test"]) == EVERY, lines
    assert opened(lines["build"]) == {"registry"}, lines["build"]  # package installs work during setup
    assert opened(lines["test"]) == set(), lines["test"]  # and after it nothing at all
    assert len(seen.bridges) == 2  # the internal app network and the (cut) egress network
    assert_removed(docker_client, seen)


async def test_full_keeps_the_registry_and_still_blocks_every_private_target(
    docker_client: docker.DockerClient, base_image: str, targets: Targets
) -> None:
    lines, seen = await probe(docker_client, base_image, targets, "full", setup=False)
    assert probed(lines["test"]) == EVERY, lines
    assert opened(lines["test"]) == {"registry"}, lines["test"]
    assert_removed(docker_client, seen)


async def test_none_reaches_nothing_even_in_setup(
    docker_client: docker.DockerClient, base_image: str, targets: Targets
) -> None:
    lines, seen = await probe(docker_client, base_image, targets, "none")
    assert probed(lines["build"]) == EVERY and opened(lines["build"]) == set(), lines["build"]
    assert opened(lines["test"]) == set(), lines["test"]
    assert len(seen.bridges) == 1
    assert_removed(docker_client, seen)


async def test_networks_and_rules_left_by_a_crash_are_removed(docker_client: docker.DockerClient) -> None:
    instance = f"crash-{secrets.token_hex(4)}"
    network = await SandboxNetwork.create(docker_client, policy="full", labels={"codegen-bot.instance": instance})
    bridges = [network.app_bridge, network.egress_bridge]
    orphan = f"cgb-{secrets.token_hex(5)}x"  # rules whose network is already gone
    firewall.install(orphan, egress=False, dns=[])

    def ours() -> set[str]:
        return {rule[rule.index("--comment") + 1][len(firewall.TAG):] for chain, _ in firewall.CHAINS
                for rule in firewall.rules_of(chain)} & {*bridges, orphan}

    assert ours() == {*bridges, orphan}
    assert cleanup_leftovers(docker_client, instance) == 2  # (the bot does this at start-up)
    for name in (network.app, network.egress):
        with pytest.raises(docker.errors.NotFound):
            docker_client.networks.get(name)
    assert ours() == set()
