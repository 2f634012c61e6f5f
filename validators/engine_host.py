"""The host of a Docker engine the bot does not share a network with (`DOCKER_HOSTS`, validators/engines.py).

How the bot reaches a snapshot there — the decision (issue 16):
- Not through a published port, nor by routing to the container's address: the snapshot's app network is
  `internal`, its address is routable only on the engine's host, and publishing a port would give the app a
  way to the engine host's network. Instead every check runs *inside* the engine, on the snapshot's own app
  network, as the browser already did:
  - the health check (`probe`): a probe container (the base image, its `curl`) joins the app network, and each
    attempt is `docker exec curl` against the app's address; it has no capability, a read-only root, small
    limits, and carries the snapshot labels (so `cleanup_leftovers` removes it after a crash);
  - the browser checks: the browser container joins the same network, its DevTools reached through
    `docker exec` (validators/web_eval/relay.py) on the engine's own client.
  All of that speaks only the Docker API, which works the same over `unix://`, `tcp://` (TLS) and `ssh://`.
- The snapshot firewall (validators/firewall.py) must hold on that host, not on the bot's: `firewall()` gives
  the `FirewallHost` whose iptables commands run on the engine's host through a helper container: the
  host's network namespace (`network_mode=host`), the host's root file system at /host (read-only, /run
  writable for the xtables lock) and `chroot /host iptables ...`, so the host's own iptables (legacy or nft, as
  its Docker uses) writes the rules. The helper gets only NET_ADMIN, NET_RAW and SYS_CHROOT, runs nothing of a
  repository's, and is named per bot instance (`codegen-bot-firewall-<instance>`): a crash leaves at most
  one, reused at the next start. It is not labelled as a snapshot (cleanup of snapshots never kills it
  mid-rule); `close()` removes it when the bot stops (replicas of one bot share it: one that another
  removed is made again at the next rule). Whoever may use a Docker engine is root on its host
  anyway: the helper adds no power the bot did not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from typing import Any

import docker
import docker.errors

from validators.firewall import FirewallHost, parse_resolvers
from validators.health import HealthResult, ProbeError, wait_healthy
from validators.labels import INSTANCE_LABEL, LABEL
from validators.snapshot import Snapshot

HELPER_IMAGE = os.environ.get("CODEGEN_BOT_BASE_IMAGE", "codegen-bot-base:bookworm")
HELPER_LABEL = "codegen-bot.helper"
ROLE_LABEL = "codegen-bot.role"


class EngineHost:
    """Reaches one engine's host through containers on it (see the module's docstring)."""

    def __init__(self, client: docker.DockerClient, instance: str = "default") -> None:
        self.client = client
        self.name = f"codegen-bot-firewall-{instance}"
        self._helper: Any = None
        self._lock = threading.Lock()

    def firewall(self) -> FirewallHost:
        return FirewallHost(run=self.iptables, dns=self.resolvers)

    def iptables(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Blocking: `iptables -w 10 <args>` on the engine's host."""
        code, out, err = self._exec(["chroot", "/host", "iptables", "-w", "10", *args])
        return subprocess.CompletedProcess(["iptables", *args], code, out, err)

    def resolvers(self) -> list[str]:
        """Blocking: the engine host's name servers."""
        _code, out, _err = self._exec(
            ["sh", "-c", "cat /host/etc/resolv.conf /host/run/systemd/resolve/resolv.conf 2>/dev/null; true"])
        return parse_resolvers([out])

    def _exec(self, cmd: list[str]) -> tuple[int, str, str]:
        try:
            result = self._container().exec_run(cmd, demux=True)
        except docker.errors.APIError:  # removed or stopped meanwhile (another replica's close): once more
            with self._lock:
                self._helper = None
            result = self._container().exec_run(cmd, demux=True)
        out, err = result.output if isinstance(result.output, tuple) else (result.output, b"")
        return (int(result.exit_code or 0), (out or b"").decode(errors="replace"),
                (err or b"").decode(errors="replace"))

    def _container(self) -> Any:
        with self._lock:
            if self._helper is not None:
                return self._helper
            try:
                helper = self.client.containers.get(self.name)
                if helper.status != "running":
                    helper.start()
            except docker.errors.NotFound:
                helper = self._create()
            self._helper = helper
            return helper

    def _create(self) -> Any:
        try:
            return self.client.containers.run(
                HELPER_IMAGE, command=["sleep", "infinity"], name=self.name, detach=True, init=True,
                network_mode="host", cap_drop=["ALL"], cap_add=["NET_ADMIN", "NET_RAW", "SYS_CHROOT"],
                security_opt=["no-new-privileges"], labels={HELPER_LABEL: "firewall"},
                volumes={"/": {"bind": "/host", "mode": "ro"}, "/run": {"bind": "/host/run", "mode": "rw"}},
                mem_limit=256 * 1024**2, pids_limit=64,
            )
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: another replica of this bot created it first
                raise
            return self.client.containers.get(self.name)

    def close(self) -> None:
        """Blocking: remove the helper container."""
        with self._lock:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.client.containers.get(self.name).remove(force=True)
            self._helper = None


async def probe(snapshot: Snapshot, url: str, timeout: float) -> HealthResult:
    """`wait_healthy(url)` from a probe container on the snapshot's app network (see the module's docstring)."""
    container = await asyncio.to_thread(_start_probe, snapshot)
    try:
        async def get(target: str, seconds: float) -> int:
            return await asyncio.to_thread(_curl, container, target, seconds)

        return await wait_healthy(url, timeout, get=get)
    finally:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.shield(asyncio.to_thread(container.remove, force=True))


def _start_probe(snapshot: Snapshot) -> Any:
    own = snapshot.container.labels or {}
    labels = {LABEL: "1", ROLE_LABEL: "health-probe",
              **{key: value for key, value in own.items() if key == INSTANCE_LABEL}}
    return snapshot.client.containers.run(
        HELPER_IMAGE, command=["sleep", "infinity"], detach=True, init=True, network=snapshot.app_network,
        labels=labels, cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, user="65534:65534",
        nano_cpus=int(0.5e9), mem_limit=128 * 1024**2, pids_limit=32,
    )


def _curl(container: Any, url: str, seconds: float) -> int:
    result = container.exec_run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*", "--max-time",
         f"{max(0.1, seconds):.1f}", url], demux=True)
    out, err = result.output if isinstance(result.output, tuple) else (result.output, b"")
    text = (out or b"").decode(errors="replace").strip()
    if result.exit_code != 0 or not text.isdigit() or text == "000":
        raise ProbeError((err or b"").decode(errors="replace").strip() or f"curl exited {result.exit_code}")
    return int(text)
