"""A throw-away Docker container in which one commit is built, tested and started.

Decisions (security first):
- The container gets only the environment the repository's config gives (plus cache and CA variables).
  Nothing of the bot's own environment — installation token, webhook secret, private key, Codegen token —
  is ever passed: Docker does not inherit the caller's environment, and this module adds nothing else.
  The operator's secrets (`snapshot.secrets`) are given to single commands as their exec's environment
  (`run(env=...)`, `start_background(env=...)`), never at create time: `docker commit` keeps that one.
- No privileges: every capability dropped except the few that package installs need (chown, setuid...),
  `no-new-privileges`, limits on CPUs, memory (swap included) and processes.
- The only host paths mounted are the CA bundle (read-only; needed behind TLS-inspecting proxies for pip,
  npm and git) and named cache volumes per repository. The source arrives as a tar of the commit's tree
  (no `.git`, no remote URL, no credential).
- Networks: the validation's own (validators/sandbox_network.py), never Docker's default bridge. Nothing is
  published on a host port: the bot reaches the app at its address on the internal app network
  (`app_url`); a browser container joins `app_network` and finds the app as `app_address`. A snapshot created
  without a network gets its own, with no way out (`snapshot.network: none`), removed with it.
- The image is pulled without the operator's registry credentials (validators/image.py).
- Every container carries the label `codegen-bot.snapshot=1`; `cleanup_leftovers` removes what a crash
  left behind (containers, then networks and their firewall rules).
- A step runs as `timeout -k 5 <seconds> sh -c <command>`: GNU timeout runs the command in its own process
  group and kills the whole group, so a hung test cannot outlive its limit; when the step ends, whatever it
  left running in that group (background jobs, a fork bomb) is killed too. A step killed by the kernel's
  OOM killer is recognised from the container's cgroup `memory.events` (`oom_kill` grew).
- Output is streamed and only the last `MAX_OUTPUT_BYTES` are kept (the end of a log is where the error is).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shlex
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from validators.firewall import LOCAL, FirewallHost
from validators.image import pull_image
from validators.labels import INSTANCE_LABEL, LABEL
from validators.sandbox_network import APP_ALIAS, SandboxNetwork, remove_leftover_networks

__all__ = ["INSTANCE_LABEL", "LABEL", "Resources", "Snapshot", "SnapshotError", "StepResult", "cleanup_leftovers"]

log = logging.getLogger(__name__)

MAX_OUTPUT_BYTES = 256 * 1024
CA_PATH_IN_CONTAINER = "/etc/codegen-bot/ca-certificates.crt"
CA_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO",
          "CURL_CA_BUNDLE")
DEPLOY_LOG = "/tmp/codegen-bot-deploy.log"
STEP_PID = "/tmp/.codegen-bot-step.pid"
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID", "KILL", "NET_BIND_SERVICE"]


class SnapshotError(RuntimeError):
    pass


@dataclass(frozen=True)
class Resources:
    cpus: float = 2.0
    memory_bytes: int = 2 * 1024**3
    pids: int = 512


@dataclass(frozen=True)
class StepResult:
    command: str
    exit_code: int | None
    output: str
    duration: float
    timed_out: bool = False
    oom_killed: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Snapshot:
    def __init__(self, client: docker.DockerClient, container: Any, workdir: str, port: int | None,
                 network: SandboxNetwork, owns_network: bool = False) -> None:
        self.client = client
        self.container = container
        self.workdir = workdir
        self.port = port
        self.network = network
        self._owns_network = owns_network
        #: the container's address on the app network (read once it runs)
        self.app_ip: str | None = None
        #: always None: nothing is published on a host port (kept for callers written when it was)
        self.host_port: int | None = None
        self._oom_kills = 0

    @property
    def app_network(self) -> str | None:
        """The internal network the app is on (a browser container joins it)."""
        return self.network.app

    @property
    def app_address(self) -> str:
        """The app's name on `app_network`."""
        return APP_ALIAS

    @property
    def app_url(self) -> str | None:
        """Where the bot, on the host, reaches the app: its address on the app network, `port`."""
        return f"http://{self.app_ip}:{self.port}" if self.app_ip and self.port else None

    @classmethod
    async def create(
        cls,
        client: docker.DockerClient,
        *,
        image: str,
        workdir: str = "/workspace",
        env: Mapping[str, str] | None = None,
        resources: Resources | None = None,
        labels: Mapping[str, str] | None = None,
        ca_bundle: str | Path | None = None,
        cache_volumes: Mapping[str, str] | None = None,
        port: int | None = None,
        network: SandboxNetwork | None = None,
    ) -> Snapshot:
        """Start the container on `network` (created here, with no way out, when None: then it is the
        snapshot's and goes with it). `port` is where the app will listen (`app_url`)."""
        all_labels = {LABEL: "1", **dict(labels or {})}
        owns = network is None
        net = network or await SandboxNetwork.create(client, policy="none", labels=all_labels)
        try:
            container = await asyncio.to_thread(
                _start, client, net, image, workdir, dict(env or {}), resources or Resources(), all_labels,
                ca_bundle, dict(cache_volumes or {}),
            )
        except BaseException:
            if owns:
                with contextlib.suppress(Exception):
                    await asyncio.shield(net.remove())
            raise
        snapshot = cls(client, container, workdir, port, net, owns_network=owns)
        try:
            await snapshot._read_address()  # (Docker creates `working_dir` itself)
        except BaseException:
            await asyncio.shield(snapshot.remove())
            raise
        return snapshot

    async def _read_address(self) -> None:
        await asyncio.to_thread(self.container.reload)
        networks = self.container.attrs.get("NetworkSettings", {}).get("Networks") or {}
        self.app_ip = (networks.get(self.network.app) or {}).get("IPAddress") or None

    async def end_setup(self) -> None:
        """`snapshot.setup` is over: with `snapshot.network: setup-only` the way out is cut (idempotent)."""
        await self.network.end_setup(self.container)

    def _exec_simple(self, cmd: list[str]) -> tuple[int, bytes]:
        result = self.container.exec_run(cmd, demux=False)
        return int(result.exit_code or 0), result.output or b""

    async def put_tree(self, tar: bytes) -> None:
        ok = await asyncio.to_thread(self.container.put_archive, self.workdir, tar)
        if not ok:
            raise SnapshotError("the source tree could not be copied into the snapshot")

    def _run_blocking(self, command: str, timeout: float, env: Mapping[str, str] | None) -> tuple[int | None, bytes]:
        seconds = max(1, int(timeout))
        api = self.client.api
        exec_id = api.exec_create(
            self.container.id,
            # `timeout` keeps the pid written here and makes it its process group: see _kill_strays
            ["sh", "-c", f'echo $$ > {STEP_PID}; exec timeout -k 5 "$0" sh -c "$1"', str(seconds), command],
            workdir=self.workdir,
            environment=dict(env or {}),
        )["Id"]
        tail = bytearray()
        for chunk in api.exec_start(exec_id, stream=True, demux=False):
            tail.extend(chunk)
            if len(tail) > 2 * MAX_OUTPUT_BYTES:
                del tail[: len(tail) - MAX_OUTPUT_BYTES]
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        self._kill_strays()
        return exit_code, bytes(tail[-MAX_OUTPUT_BYTES:])

    def _kill_strays(self) -> None:
        """Kill what a finished step left running in its process group (background jobs, fork bombs).

        A fork bomb keeps the pids limit full, so starting the `kill` may fail for a moment: retried.
        """
        for _ in range(50):
            code, _out = self._exec_simple(["sh", "-c", f"kill -9 -$(cat {STEP_PID}) 2>/dev/null; true"])
            if code == 0:
                return
            time.sleep(0.05)
        log.warning("could not clean up after a step in %s", self.container.short_id)

    def _oom_kill_count(self) -> int:
        """The container cgroup's OOM-kill counter (cgroup v2 `memory.events`, v1 `memory.oom_control`)."""
        code, out = self._exec_simple(
            ["sh", "-c", "cat /sys/fs/cgroup/memory.events 2>/dev/null"
                         " || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"]
        )
        if code != 0:
            return 0
        for line in out.decode(errors="replace").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value or 0)
        return 0

    async def run(self, command: str, timeout: float, env: Mapping[str, str] | None = None) -> StepResult:
        started = time.monotonic()
        try:
            exit_code, output = await asyncio.wait_for(
                asyncio.to_thread(self._run_blocking, command, timeout, env), timeout=timeout + 30
            )
        except TimeoutError:
            return StepResult(command, None, "(the step did not end even after it was killed)",
                              time.monotonic() - started, timed_out=True)
        duration = time.monotonic() - started
        timed_out = exit_code == 124 or (exit_code == 137 and duration >= timeout - 0.5)
        oom = False
        if exit_code == 137 and not timed_out:
            count = await asyncio.to_thread(self._oom_kill_count)
            oom = count > self._oom_kills
            self._oom_kills = count
        text = output.decode("utf-8", errors="replace")
        if timed_out:
            text += f"\n[codegen-bot] the step was stopped after {int(timeout)} s\n"
        if oom:
            text += "\n[codegen-bot] the step was killed: out of memory (snapshot.resources.memory)\n"
        return StepResult(command, exit_code, text, duration, timed_out=timed_out, oom_killed=oom)

    async def put_file(self, path: str, text: str) -> None:
        """Write one file (absolute path) into the container."""
        data = text.encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        await asyncio.to_thread(self.container.put_archive, "/", buf.getvalue())

    async def commit(self, tag: str, labels: Mapping[str, str]) -> None:
        """Keep the container's file system as the image `tag` (repository:tag)."""
        repository, _, version = tag.rpartition(":")
        changes = [f"LABEL {key}={value}" for key, value in labels.items()]
        await asyncio.to_thread(self.container.commit, repository=repository, tag=version, changes=changes)

    async def start_background(self, command: str, env: Mapping[str, str] | None = None) -> None:
        """Start the app (`snapshot.deploy`) in the background, `env` added to its exec's environment; its
        output goes to a log file."""
        wrapped = f"({command}) >{DEPLOY_LOG} 2>&1"
        api = self.client.api

        def start() -> None:
            exec_id = api.exec_create(self.container.id, ["sh", "-c", wrapped], workdir=self.workdir,
                                      environment=dict(env or {}))["Id"]
            api.exec_start(exec_id, detach=True)

        await asyncio.to_thread(start)

    async def background_logs(self, tail: int = 200) -> str:
        code, out = await asyncio.to_thread(
            self._exec_simple, ["sh", "-c", f"tail -n {int(tail)} {shlex.quote(DEPLOY_LOG)} 2>/dev/null"]
        )
        return out.decode("utf-8", errors="replace") if code == 0 else ""

    async def stop(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            await asyncio.to_thread(self.container.stop, timeout=2)

    async def remove(self) -> None:
        """Remove the container (and its network, when it made its own)."""
        try:
            await asyncio.to_thread(self.container.remove, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # 409: someone else's removal of it is already in progress
            if exc.status_code != 409:
                raise
        if self._owns_network:
            await self.network.remove()


def _start(client: docker.DockerClient, network: SandboxNetwork, image: str, workdir: str, env: dict[str, str],
           resources: Resources, labels: dict[str, str], ca_bundle: str | Path | None,
           cache_volumes: dict[str, str]) -> Any:
    """Blocking: create the container on the network's primary network, join the app network, start it."""
    volumes = {volume: {"bind": path, "mode": "rw"} for volume, path in cache_volumes.items()}
    if ca_bundle is not None and Path(ca_bundle).is_file():
        volumes[str(Path(ca_bundle).resolve())] = {"bind": CA_PATH_IN_CONTAINER, "mode": "ro"}
        for name in CA_ENV:
            env.setdefault(name, CA_PATH_IN_CONTAINER)
    pull_image(client, image)
    container = client.containers.create(
        image,
        command=["sleep", "infinity"],
        init=True,
        working_dir=workdir,
        environment=env,
        labels=labels,
        nano_cpus=int(resources.cpus * 1e9),
        mem_limit=resources.memory_bytes,
        memswap_limit=resources.memory_bytes,
        pids_limit=resources.pids,
        cap_drop=["ALL"],
        cap_add=CAPABILITIES,
        security_opt=["no-new-privileges"],
        volumes=volumes,
        network=network.primary,
        networking_config=network.endpoint_config(),
    )
    try:
        network.attach(container)
        container.start()
    except BaseException:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)
        raise
    return container


def cleanup_leftovers(client: docker.DockerClient, instance: str | None = None, fw: FirewallHost = LOCAL) -> int:
    """Remove snapshot containers (by label), running or not, then snapshot networks and the firewall rules
    of bridges that are gone: those of one bot `instance` when given (so two bots sharing a Docker engine
    never remove each other's), else all; `fw`: the engine's host (validators/engine_host.py), this machine by
    default. Blocking; returns how many containers and networks."""
    removed = 0
    labels = [f"{LABEL}=1"] + ([f"{INSTANCE_LABEL}={instance}"] if instance else [])
    for container in client.containers.list(all=True, filters={"label": labels}):
        try:
            container.remove(force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # e.g. 409: its removal is already in progress
            log.warning("could not remove leftover snapshot %s: %s", container.short_id, exc.explanation or exc)
    return removed + remove_leftover_networks(client, instance, fw)
