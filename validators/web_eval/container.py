"""The browser of one web evaluation: Debian's Chromium in its own container, next to the app under test.

`browser_sandbox(...)` yields the app's URL as the browser sees it and a DevTools URL for Playwright, and
removes everything it made when the evaluation ends.

Where the browser runs: always on the snapshot's internal app network (validators/sandbox_network.py),
never in the bot's network namespace — there is no browser on the bot's host any more.
- With `network` (given by the pipeline, the bot and the CLI): the browser container joins it; the app is
  `app_host` there, on the port of `base_url`.
- Without (a direct caller that only has the app's URL): the snapshot network on which a container has
  `base_url`'s address is joined, and the app is that address. An address that no snapshot network holds
  is refused. No network is ever created here: one that the snapshot firewall (validators/firewall.py)
  does not cover would give the app a way to the host.
The browser uses the app's IP address (`app_host` resolved by Docker's DNS inside the container, before
anything else runs), not its name: Chromium's HSTS preload list holds the `.app` top-level domain, so
`http://app:8000` would silently become `https://app:8000`. Pages' URLs are `http://<address>:<port>/...`.

The container (image `codegen-bot-browser:bookworm`, built by scripts/ensure-docker.sh):
- starts as root only to set its firewall — outbound TCP to the app's address and port, loopback, replies;
  nothing else in or out, IPv6 off — and then `setpriv` drops to the user `browser` (uid 10001) with no
  capabilities, an empty bounding set and no-new-privileges before Chromium starts;
- Chromium keeps its own sandbox (see validators/web_eval/seccomp.py for the profile that allows it);
- read-only root file system, a tmpfs /tmp for the profile, CPU, memory and process limits;
- DevTools on the container's loopback only, reached through `docker exec` (validators/web_eval/relay.py);
- labelled `codegen-bot.snapshot=1` (and the app's `codegen-bot.instance`), like snapshots, so
  `cleanup_leftovers` removes what a crash leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors

from validators.labels import INSTANCE_LABEL, LABEL
from validators.sandbox_network import APP_ALIAS
from validators.web_eval.relay import CDP_PORT, CdpRelay
from validators.web_eval.seccomp import security_opt

BROWSER_IMAGE = os.environ.get("CODEGEN_BOT_BROWSER_IMAGE", "codegen-bot-browser:bookworm")
BROWSER_UID = "10001"
ROLE_LABEL = "codegen-bot.role"
CPUS = 1.0
MEMORY_BYTES = 1536 * 1024**2  # the /tmp tmpfs counts against it
PIDS = 1024  # Chromium's threads count
READY_TIMEOUT = 30.0
_APP_LINE = re.compile(r"^codegen-bot-browser: app=(\d{1,3}(?:\.\d{1,3}){3}):\d+ ", re.MULTILINE)

#: Chromium's flags besides the per-evaluation ones (app origin, proxy, resolver)
CHROMIUM_FLAGS = [
    "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic", "--disable-dev-shm-usage", "--disable-breakpad",
    "--no-default-browser-check", "--mute-audio", "--disable-features=MediaRouter,OptimizationHints,Translate",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
]

#: the container's command, as root: firewall, then Chromium as `browser` without any capability
ENTRY = r"""
app_ip=$(getent ahostsv4 "$APP_HOST" | awk 'NR == 1 { print $1 }')
[ -n "$app_ip" ] || { echo "codegen-bot-browser: $APP_HOST does not resolve" >&2; exit 3; }
iptables -P INPUT DROP
iptables -P FORWARD DROP
iptables -P OUTPUT DROP
iptables -A INPUT -i lo -j ACCEPT
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A OUTPUT -d 127.0.0.11 -j DROP
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A OUTPUT -p tcp -d "$app_ip" --dport "$APP_PORT" -j ACCEPT
for policy in INPUT FORWARD OUTPUT; do ip6tables -P "$policy" DROP 2>/dev/null || true; done
ip6tables -A INPUT -i lo -j ACCEPT 2>/dev/null || true
ip6tables -A OUTPUT -o lo -j ACCEPT 2>/dev/null || true
echo "codegen-bot-browser: app=$app_ip:$APP_PORT (nothing else is reachable)" >&2
exec setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
  -- "$@" "--proxy-bypass-list=$app_ip:$APP_PORT;<-loopback>" \
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE $app_ip" about:blank
"""


class BrowserUnavailable(RuntimeError):
    """The browser could not be started; the message says why, for the check run."""


@dataclass
class _Target:
    network: str
    host: str
    port: int
    labels: dict[str, str]


@dataclass
class Sandbox:
    app_url: str
    cdp_url: str
    relay: CdpRelay
    container: Any

    def connected(self) -> None:
        """Playwright is connected: the relay takes no new connection."""
        self.relay.stop_accepting()


def chromium_command(chromium_path: str) -> list[str]:
    """Chromium's command line but for what ENTRY adds once it knows the app's address: the proxy bypass
    (the app's address and port) and the resolver rules (no name resolves)."""
    return [
        chromium_path, "--headless", f"--remote-debugging-port={CDP_PORT}", "--user-data-dir=/tmp/chromium",
        *CHROMIUM_FLAGS,
        # layer 2 of validators/web_eval/origin.py: only the app is reached directly; the rest goes to a proxy
        # that does not exist (nothing listens on port 1), loopback and WebSockets included
        "--proxy-server=http://127.0.0.1:1",
    ]


def _labels_of(attrs: dict[str, Any] | None) -> dict[str, str]:
    labels = dict((attrs or {}).get("Labels") or {})
    return {LABEL: "1", ROLE_LABEL: "web-eval",
            **{key: value for key, value in labels.items() if key == INSTANCE_LABEL}}


def _given_network(client: docker.DockerClient, base_url: str, network: str, app_host: str) -> _Target:
    port = urlsplit(base_url).port or 80
    try:
        attrs = client.networks.get(network).attrs
    except docker.errors.NotFound:
        raise BrowserUnavailable(f"the snapshot's network {network} does not exist") from None
    return _Target(network, app_host, port, _labels_of(attrs))


def _found_network(client: docker.DockerClient, base_url: str) -> _Target:
    """Without `network`: the snapshot network on which a container has `base_url`'s address."""
    parts = urlsplit(base_url)
    address, port = parts.hostname or "", parts.port or 80
    for network in client.networks.list(filters={"label": f"{LABEL}=1"}):
        network.reload()
        for endpoint in (network.attrs.get("Containers") or {}).values():
            if str(endpoint.get("IPv4Address", "")).split("/", 1)[0] == address:
                return _Target(network.name, address, port, _labels_of(network.attrs))
    raise BrowserUnavailable(
        f"the app at {base_url} is not a snapshot on this Docker engine: the browser runs only in a container"
        " on the snapshot's network")


def _start(client: docker.DockerClient, target: _Target, chromium_path: str) -> Any:
    try:
        client.images.get(BROWSER_IMAGE)
    except docker.errors.ImageNotFound:
        raise BrowserUnavailable(
            f"the browser image {BROWSER_IMAGE} is missing: `scripts/ensure-docker.sh` builds it") from None
    machine = str(client.info().get("Architecture", ""))
    return client.containers.run(
        BROWSER_IMAGE,
        command=["sh", "-ec", ENTRY, "codegen-bot-browser", *chromium_command(chromium_path)],
        user="0:0", detach=True, init=True, network=target.network, labels=target.labels,
        environment={"APP_HOST": target.host, "APP_PORT": str(target.port), "HOME": "/tmp"},
        nano_cpus=int(CPUS * 1e9), mem_limit=MEMORY_BYTES, memswap_limit=MEMORY_BYTES, pids_limit=PIDS,
        cap_drop=["ALL"], cap_add=["NET_ADMIN", "SETUID", "SETGID", "SETPCAP"],
        security_opt=["no-new-privileges", security_opt(machine)],
        sysctls={"net.ipv6.conf.all.disable_ipv6": "1"},
        read_only=True, tmpfs={"/tmp": "rw,nosuid,nodev,size=512m,mode=1777"},
        log_config=docker.types.LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
    )


def _wait_ready(container: Any, deadline: float) -> str:
    """Until Chromium says its DevTools port listens; a container that ends first is an error. Returns the
    app's address, as ENTRY resolved it."""
    while time.monotonic() < deadline:
        logs = container.logs().decode("utf-8", "replace")
        found = _APP_LINE.search(logs)
        if found and "DevTools listening on" in logs:
            return found.group(1)
        container.reload()
        if container.status not in ("created", "running"):
            raise BrowserUnavailable(f"the browser container ended: {_tail(logs)}")
        time.sleep(0.1)
    raise BrowserUnavailable(f"Chromium did not start within {READY_TIMEOUT:.0f} s: "
                             f"{_tail(container.logs(tail=200).decode('utf-8', 'replace'))}")


def _tail(logs: str) -> str:
    lines = [line for line in logs.splitlines() if "dbus" not in line and line.strip()]
    return " / ".join(lines[-3:])[-600:] or "(no output)"


def _remove(container: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        container.remove(force=True, v=True)


@contextlib.asynccontextmanager
async def browser_sandbox(base_url: str, chromium_path: str = "/usr/bin/chromium", *, network: str | None = None,
                          app_host: str | None = None, client: docker.DockerClient | None = None
                          ) -> AsyncIterator[Sandbox]:
    """`client`: the snapshot's engine (DOCKER_HOSTS); default `docker.from_env()`, closed at the end."""
    own = client is None
    if client is None:
        client = await asyncio.to_thread(docker.from_env)
    try:
        if network is not None:
            target = await asyncio.to_thread(_given_network, client, base_url, network, app_host or APP_ALIAS)
        else:
            target = await asyncio.to_thread(_found_network, client, base_url)
        container = await asyncio.to_thread(_start, client, target, chromium_path)
        try:
            address = await asyncio.to_thread(_wait_ready, container, time.monotonic() + READY_TIMEOUT)
            relay = CdpRelay(client, container.id, BROWSER_UID)
            try:
                yield Sandbox(f"http://{address}:{target.port}", relay.url, relay, container)
            finally:
                relay.close()
        finally:
            await asyncio.shield(asyncio.to_thread(_remove, container))
    finally:
        if own:
            client.close()
