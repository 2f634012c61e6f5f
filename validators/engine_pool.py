"""The engines of one replica at run time: clients, slots, health, start-up cleanup (validators/engines.py
parses `DOCKER_HOSTS` and decides placement; validators/engine_host.py reaches a remote engine's host).

`EnginePool.slot()` gives a validation one engine's slot for as long as it runs: the placement is
`engines.place` over the engines' current loads; an engine whose ping fails is left out for `DOWN_SECONDS`
and another is tried. Everything a validation creates — networks, containers, built and cached images,
cache volumes — lives on its engine: the setup cache and Dockerfile builds are per engine by construction.
`cleanup_leftovers` runs on every engine at start-up, each with its own firewall host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.tls

from validators.engine_host import EngineHost, probe
from validators.engines import EngineSpec, Load, parse_docker_hosts, place
from validators.firewall import FirewallHost
from validators.request import HealthProbe
from validators.snapshot import cleanup_leftovers

log = logging.getLogger(__name__)

DOWN_SECONDS = 30.0
#: how long a validation waits for a slot before looking at the engines again
WAIT_SECONDS = 5.0


class EngineUnavailable(RuntimeError):
    """No engine of the pool answers."""


def connect(spec: EngineSpec) -> docker.DockerClient:
    """Blocking: a client for one endpoint (`docker.from_env()` for the environment's engine)."""
    if not spec.url:
        return docker.from_env(timeout=120)
    kwargs: dict[str, Any] = {"base_url": spec.url, "timeout": 120}
    if spec.url.startswith("ssh://"):
        kwargs["use_ssh_client"] = True  # the system's ssh: its config, agent and known hosts
    if spec.url.startswith("tcp://") and (spec.tls_verify or spec.cert_path):
        certs = Path(spec.cert_path or Path.home() / ".docker")
        ca = certs / "ca.pem"
        kwargs["tls"] = docker.tls.TLSConfig(
            client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
            ca_cert=str(ca) if spec.tls_verify else None, verify=spec.tls_verify)
    return docker.DockerClient(**kwargs)


@dataclass
class Engine:
    spec: EngineSpec
    instance: str = "default"
    connector: Callable[[EngineSpec], docker.DockerClient] = connect
    running: int = 0
    down_until: float = 0.0
    _client: docker.DockerClient | None = field(default=None, repr=False)
    _host: EngineHost | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def load(self, now: float) -> Load:
        return Load(self.spec.slots, self.running, up=now >= self.down_until)

    def client(self) -> docker.DockerClient:
        """Blocking: the engine's client (connected on first use)."""
        if self._client is None:
            self._client = self.connector(self.spec)
        return self._client

    def ping(self) -> None:
        self.client().ping()

    @property
    def firewall_host(self) -> FirewallHost | None:
        """Where its snapshots' firewall rules go: None for this machine (a local engine)."""
        if not self.spec.remote:
            return None
        if self._host is None:
            self._host = EngineHost(self.client(), self.instance)
        return self._host.firewall()

    @property
    def health_probe(self) -> HealthProbe | None:
        """How the health check reaches its snapshots: None from the bot (a local engine)."""
        return probe if self.spec.remote else None

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None


class EnginePool:
    def __init__(self, specs: list[EngineSpec], instance: str = "default",
                 connector: Callable[[EngineSpec], docker.DockerClient] = connect) -> None:
        if not specs:
            raise ValueError("a pool needs at least one engine")
        self.engines = [Engine(spec, instance, connector) for spec in specs]
        self._changed: asyncio.Condition | None = None

    @property
    def total_slots(self) -> int:
        return sum(engine.spec.slots for engine in self.engines)

    def loads(self) -> list[Load]:
        now = time.monotonic()
        return [engine.load(now) for engine in self.engines]

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Engine]:
        """One engine's slot for the duration of the block (see the module's docstring)."""
        engine = await self._take()
        try:
            yield engine
        finally:
            engine.running -= 1
            async with self._condition():
                self._condition().notify_all()

    async def _take(self) -> Engine:
        while True:
            loads = self.loads()
            index = place(loads)
            if index is None:
                if not any(load.up for load in loads):
                    raise EngineUnavailable("no Docker engine of DOCKER_HOSTS answers")
                async with self._condition():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._condition().wait(), WAIT_SECONDS)
                continue
            engine = self.engines[index]
            engine.running += 1  # reserved while it is pinged: a concurrent taker sees it busy
            try:
                await asyncio.to_thread(engine.ping)
                return engine
            except Exception as exc:
                engine.running -= 1
                engine.down_until = time.monotonic() + DOWN_SECONDS
                log.warning("Docker engine %s does not answer (%s); left out for %.0f s", engine.name,
                            type(exc).__name__, DOWN_SECONDS)

    async def cleanup_leftovers(self, instance: str | None = None) -> int:
        """At start-up: every engine's leftover snapshots, networks and firewall rules (one bot `instance`'s
        when given). An engine that does not answer is skipped (said in the log)."""
        removed = 0
        for engine in self.engines:
            try:
                await asyncio.to_thread(engine.ping)
                fw = engine.firewall_host
                removed += await asyncio.to_thread(
                    cleanup_leftovers, engine.client(), instance, *([fw] if fw is not None else []))
            except Exception as exc:
                log.warning("could not remove leftovers on Docker engine %s: %s", engine.name, exc)
        return removed

    def close(self) -> None:
        """Blocking: the clients and the remote engines' firewall helpers (another replica that still uses a
        helper makes it again)."""
        for engine in self.engines:
            engine.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def pool_from_settings(docker_hosts: str, slots: int, instance: str) -> EnginePool:
    """The pool `DOCKER_HOSTS` describes (the environment's engine when empty)."""
    return EnginePool(parse_docker_hosts(docker_hosts, slots, os.environ), instance)
