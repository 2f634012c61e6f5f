"""The Docker networks of one validation, and `snapshot.network: setup-only | full | none`.

Each validation gets its own networks (never Docker's default bridge, where every container and the host's
ports are one hop away):

- `app`: `internal: true`. The snapshot container is on it under the alias `app` (`APP_ALIAS`); a browser
  container may join it to reach the deployed app. The bot, on the host, reaches the app at its address on
  this network (`Snapshot.app_url`): nothing is published on any host port.
- `egress`: an ordinary bridge, the way to the internet (package registries). It exists unless the policy is
  `none`; with `setup-only` (the default) the container is disconnected from it once `snapshot.setup` has
  run (`cut`); with `full` it stays.

Both get the firewall rules of validators/firewall.py before anything is attached to them: no host port,
no private or link-local address (cloud metadata), no other snapshot, from either network. Names are
`codegen-bot-<token>-app|-egress`; the bridge interfaces are named by us (`cgb-<token>a|e`, within Linux's
15 characters), which is what the rules match. Every network carries the snapshot labels, so
`remove_leftover_networks` finds what a crash left behind; rules whose bridge is gone go with them.

Decisions:
- Fail closed: if the firewall cannot be installed the networks are removed and `SandboxNetworkError` is
  raised, unless the caller explicitly runs without it (`firewall_required=False`: `codegen-bot validate`
  run by a user who is not root, which says so).
- A `snapshot.dockerfile` build runs its RUN steps on `build_network`: the egress network (same rules as the
  snapshot) unless the policy is `none`, then the internal network, which reaches nothing.
- Removal order: a network first, its rules only once it is gone, so a bridge never exists without them.
- On an engine of another host (`DOCKER_HOSTS`), `firewall_host` puts the same rules on that host
  (validators/engine_host.py); by default they go to this machine's iptables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import docker
import docker.errors

from validators import firewall
from validators.labels import INSTANCE_LABEL, LABEL

log = logging.getLogger(__name__)

Policy = Literal["setup-only", "full", "none"]
POLICIES: tuple[Policy, ...] = ("setup-only", "full", "none")
APP_ALIAS = "app"
BRIDGE_OPTION = "com.docker.network.bridge.name"
REMOVE_ATTEMPTS = 6


class SandboxNetworkError(RuntimeError):
    pass


@dataclass
class SandboxNetwork:
    client: docker.DockerClient
    policy: Policy
    app: str
    app_bridge: str
    egress: str | None = None
    egress_bridge: str | None = None
    firewalled: bool = True
    #: where the bridges' rules are (the engine's host)
    fw: firewall.FirewallHost = firewall.LOCAL
    _connected_egress: bool = field(default=False, repr=False)

    @classmethod
    async def create(cls, client: docker.DockerClient, *, policy: Policy = "setup-only",
                     labels: Mapping[str, str] | None = None, firewall_required: bool = True,
                     firewall_host: firewall.FirewallHost | None = None) -> SandboxNetwork:
        if policy not in POLICIES:
            raise SandboxNetworkError(f"unknown snapshot.network policy {policy!r}")
        return await asyncio.to_thread(_create, client, policy, {LABEL: "1", **dict(labels or {})},
                                       firewall_required, firewall_host or firewall.LOCAL)

    @property
    def primary(self) -> str:
        """The network a container is created on (the one that gives it its default route)."""
        return self.egress or self.app

    @property
    def build_network(self) -> str:
        """The network of a Dockerfile build's RUN steps."""
        return self.egress or self.app

    def attach(self, container: Any) -> None:
        """Blocking, before the container starts: join the app network under `APP_ALIAS` (it was created on
        `primary`)."""
        if self.egress is not None:
            self.client.networks.get(self.app).connect(container, aliases=[APP_ALIAS])
            self._connected_egress = True

    def endpoint_config(self) -> dict[str, Any] | None:
        """`networking_config` for creating a container on `primary` (the alias, when primary is the app)."""
        if self.egress is not None:
            return None
        return {self.app: docker.types.EndpointConfig(self.client.api.api_version, aliases=[APP_ALIAS])}

    async def end_setup(self, container: Any) -> None:
        """`setup` is over: with `setup-only`, the container leaves the egress network (idempotent)."""
        if self.policy != "setup-only" or not self._connected_egress or self.egress is None:
            return
        egress = self.egress

        def cut() -> None:
            try:
                self.client.networks.get(egress).disconnect(container, force=True)
            except docker.errors.NotFound:
                pass  # the container or the network is already gone
            except docker.errors.APIError as exc:
                if "is not connected" not in str(exc):
                    raise

        await asyncio.to_thread(cut)
        self._connected_egress = False

    async def remove(self) -> None:
        await asyncio.to_thread(self.remove_blocking)

    def remove_blocking(self) -> None:
        for name, bridge in ((self.egress, self.egress_bridge), (self.app, self.app_bridge)):
            if name is not None and bridge is not None:
                _remove_network(self.client, name, bridge, self.firewalled, self.fw)


def _create(client: docker.DockerClient, policy: Policy, labels: dict[str, str],
            firewall_required: bool, fw: firewall.FirewallHost = firewall.LOCAL) -> SandboxNetwork:
    token = secrets.token_hex(5)
    net = SandboxNetwork(client, policy, f"codegen-bot-{token}-app", f"cgb-{token}a", fw=fw)
    try:
        _network(client, net.app, net.app_bridge, labels, internal=True)
        net.firewalled = _firewall(net.app_bridge, egress=False, required=firewall_required, fw=fw)
        if policy != "none":
            net.egress, net.egress_bridge = f"codegen-bot-{token}-egress", f"cgb-{token}e"
            _network(client, net.egress, net.egress_bridge, labels, internal=False)
            net.firewalled = (_firewall(net.egress_bridge, egress=True, required=firewall_required, fw=fw)
                              and net.firewalled)
    except Exception as exc:
        with contextlib.suppress(Exception):
            net.remove_blocking()
        if isinstance(exc, SandboxNetworkError):
            raise
        raise SandboxNetworkError(f"the snapshot's network could not be created: {exc}") from exc
    return net


def _firewall(bridge: str, *, egress: bool, required: bool, fw: firewall.FirewallHost = firewall.LOCAL) -> bool:
    """Install the bridge's rules: its network exists, nothing is attached to it yet."""
    try:
        firewall.install(bridge, egress=egress, host=fw)
        return True
    except firewall.FirewallError as exc:
        if required:
            raise SandboxNetworkError(f"the snapshot's firewall could not be installed: {exc}") from None
        log.warning("running the snapshot WITHOUT its firewall (%s)", exc)
        return False


def _network(client: docker.DockerClient, name: str, bridge: str, labels: dict[str, str], internal: bool) -> None:
    client.networks.create(name, driver="bridge", internal=internal, labels=labels, check_duplicate=True,
                           options={BRIDGE_OPTION: bridge})


def _remove_network(client: docker.DockerClient, name: str, bridge: str, firewalled: bool = True,
                    fw: firewall.FirewallHost = firewall.LOCAL) -> bool:
    """Blocking: disconnect what is left on it, remove it, then its rules. False when it could not go (its
    rules then stay with its bridge). A container being removed meanwhile (a browser, say) holds its endpoint
    for a moment: retried a few times."""
    for attempt in range(REMOVE_ATTEMPTS):
        try:
            network = client.networks.get(name)
            for container in network.attrs.get("Containers") or {}:
                with contextlib.suppress(docker.errors.APIError):
                    network.disconnect(container, force=True)
            network.remove()
            break
        except docker.errors.NotFound:
            break
        except docker.errors.APIError as exc:
            if attempt == REMOVE_ATTEMPTS - 1:
                log.warning("could not remove the snapshot network %s: %s", name, exc.explanation or exc)
                return False
            time.sleep(0.5)
    if firewalled:
        try:
            firewall.remove(bridge, fw)
        except firewall.FirewallError as exc:
            log.warning("could not remove the firewall rules of %s: %s", bridge, exc)
    return True


def remove_leftover_networks(client: docker.DockerClient, instance: str | None = None,
                             fw: firewall.FirewallHost = firewall.LOCAL) -> int:
    """Blocking: remove snapshot networks (by label; one bot `instance`'s when given), then every firewall
    rule whose bridge no longer exists. Returns how many networks went."""
    labels = [f"{LABEL}=1"] + ([f"{INSTANCE_LABEL}={instance}"] if instance else [])
    removed = 0
    for network in client.networks.list(filters={"label": labels}):
        try:
            network.reload()
        except docker.errors.NotFound:  # removed meanwhile (by its own validation, or another bot)
            continue
        bridge = (network.attrs.get("Options") or {}).get(BRIDGE_OPTION, "")
        if _remove_network(client, network.name, bridge, firewalled=False):
            removed += 1
    try:
        firewall.remove_orphans(lambda: _live_bridges(client.networks.list()), fw)
    except firewall.FirewallError as exc:
        log.warning("could not look for leftover firewall rules: %s", exc)
    return removed


def _live_bridges(networks: Iterable[Any]) -> set[str]:
    return {(n.attrs.get("Options") or {}).get(BRIDGE_OPTION, "") for n in networks} - {""}
