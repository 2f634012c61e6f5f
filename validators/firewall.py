"""iptables rules that keep a snapshot's traffic off the host, private networks and other snapshots.

Every snapshot network is a Docker bridge whose interface name this bot chooses (`cgb-<token><a|e>`, see
validators/sandbox_network.py). The rules match that interface, and each carries the comment
`codegen-bot:<bridge>`, so the rules of one network are found and removed with it — and, after a crash, by
`remove_orphans` (rules whose bridge no longer exists).

Decisions:
- Forwarded traffic (to anything that is not one of the host's own addresses) is filtered in `DOCKER-USER`,
  the chain Docker evaluates before its own FORWARD rules and never rewrites. Per bridge, in this order:
    1. `-i BR -o BR` returns: containers of one network (the app and the browser) reach each other (Docker
       loads br_netfilter, so even bridged traffic passes FORWARD);
    2. into the bridge only answers (`ESTABLISHED,RELATED`); any other packet routed into it is dropped: no
       other snapshot, and no machine that routes to container addresses, opens a connection to a snapshot;
    3. on an egress network only: UDP and TCP port 53 to the host's resolvers (`/etc/resolv.conf`). Docker's
       embedded DNS forwards names from the container's own network namespace, and resolvers often sit on a
       private address (this machine's is 10.255.255.53). Only port 53, only those addresses;
    4. out of the bridge to `BLOCKED` (private, link-local, loopback, shared and reserved ranges): rejected.
    Anything else falls through to Docker's own rules: the internet on an egress network, nothing on an
    internal one (Docker's isolation rules drop it).
- Traffic to the host's own addresses (the bridge's gateway, eth0's address, a metadata address on `lo`)
  never passes FORWARD: the kernel delivers it through INPUT. Per bridge, at the top of INPUT: answers to
  connections the host opened (the bot's health check and browser reach the app by its address) are
  accepted, everything else from the bridge is rejected. So a snapshot reaches no port of the host at all.
- REJECT, not DROP, for what a snapshot sends: a blocked connection fails at once (pip prints "connection
  refused" instead of hanging for minutes); what is routed *into* a snapshot network is dropped silently.
- IPv4 only: our networks have no IPv6, and Docker disables IPv6 inside such containers (not even `::1`).
- Where the rules go (`FirewallHost`): by default this machine's iptables (the bot shares the host of its
  Docker engine). For an engine on another host (`DOCKER_HOSTS`, validators/engines.py) the same rules are
  installed on *that* host, through a helper container there (validators/engine_host.py): every engine's
  snapshots get the same rules, and its resolvers are that host's.
- Fail closed: `FirewallError` when a rule cannot be installed (no iptables, not root, no DOCKER-USER chain
  because dockerd runs with `iptables: false`); the caller then removes the network and runs nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

TAG = "codegen-bot:"
#: destinations a snapshot never reaches: RFC 1918, link-local (cloud metadata 169.254.169.254), loopback,
#: shared address space (RFC 6598: carrier-grade NAT, some clouds' metadata such as 100.100.100.200),
#: "this network", multicast and reserved
BLOCKED = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8", "100.64.0.0/10",
           "0.0.0.0/8", "224.0.0.0/3")
RESOLV_CONF = (Path("/etc/resolv.conf"), Path("/run/systemd/resolve/resolv.conf"))
_BRIDGE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
#: (chain, where to insert): our rules go first, ahead of anything that would accept the packet
CHAINS = (("DOCKER-USER", "1"), ("INPUT", "1"))


class FirewallError(RuntimeError):
    pass


def resolvers(paths: Iterable[Path] = RESOLV_CONF) -> list[str]:
    """The host's IPv4 name servers that a snapshot's DNS queries go to (loopback ones excluded: Docker never
    forwards to those from a container)."""
    texts: list[str] = []
    for path in paths:
        try:
            texts.append(path.read_text())
        except OSError:
            continue
    return parse_resolvers(texts)


def parse_resolvers(texts: Iterable[str]) -> list[str]:
    """The IPv4 name servers (not loopback) of resolv.conf texts, first seen first (pure)."""
    found: list[str] = []
    for text in texts:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                try:
                    address = ipaddress.ip_address(parts[1])
                except ValueError:
                    continue
                if address.version == 4 and not address.is_loopback and str(address) not in found:
                    found.append(str(address))
    return found


def forward_rules(bridge: str, egress: bool, dns: Iterable[str] = ()) -> list[list[str]]:
    """The DOCKER-USER rules of one bridge, in evaluation order (pure)."""
    tag = ["-m", "comment", "--comment", TAG + bridge]
    rules = [
        ["-i", bridge, "-o", bridge, *tag, "-j", "RETURN"],
        ["-o", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *tag, "-j", "RETURN"],
        ["-o", bridge, *tag, "-j", "DROP"],
    ]
    if egress:
        for server in dns:
            rules += [["-i", bridge, "-d", f"{server}/32", "-p", proto, "--dport", "53", *tag, "-j", "RETURN"]
                      for proto in ("udp", "tcp")]
    rules += [["-i", bridge, "-d", blocked, *tag, "-j", "REJECT"] for blocked in BLOCKED]
    return rules


def input_rules(bridge: str) -> list[list[str]]:
    """The INPUT rules of one bridge, in evaluation order (pure)."""
    tag = ["-m", "comment", "--comment", TAG + bridge]
    return [
        ["-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *tag, "-j", "ACCEPT"],
        ["-i", bridge, *tag, "-j", "REJECT"],
    ]


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    if binary is None:
        raise FirewallError("iptables is not installed (scripts/ensure-system.sh installs it)")
    return subprocess.run([binary, "-w", "10", *args], capture_output=True, text=True, timeout=60)


Iptables = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class FirewallHost:
    """The machine whose iptables hold a bridge's rules: this one unless given (validators/engine_host.py)."""

    #: runs `iptables -w 10 <args>` there
    run: Iptables = field(default=lambda *args: _iptables(*args))
    #: that machine's name servers (see `resolvers`)
    dns: Callable[[], list[str]] = field(default=lambda: resolvers())


LOCAL = FirewallHost()


def install(bridge: str, egress: bool, dns: Iterable[str] | None = None, host: FirewallHost = LOCAL) -> None:
    """Blocking. Install the rules of one bridge: after its network exists (see `remove_orphans`), before any
    container is attached to it. On failure, the rules installed so far are removed again."""
    if not _BRIDGE.match(bridge):
        raise FirewallError(f"not a bridge name: {bridge!r}")
    servers = list(host.dns() if dns is None else dns)
    for (chain, position), rules in zip(CHAINS, (forward_rules(bridge, egress, servers), input_rules(bridge)),
                                        strict=True):
        for rule in reversed(rules):  # each inserted at the top: the last inserted is evaluated first
            run = host.run("-I", chain, position, *rule)
            if run.returncode != 0:
                remove(bridge, host)
                raise FirewallError(f"iptables -I {chain} failed: {(run.stderr or run.stdout).strip()}")


def rules_of(chain: str, host: FirewallHost = LOCAL) -> list[list[str]]:
    """Blocking. Our rules in `chain` as `iptables -S` prints them (tokens, starting with `-A <chain>`)."""
    run = host.run("-S", chain)
    if run.returncode != 0:
        raise FirewallError(f"iptables -S {chain} failed: {(run.stderr or run.stdout).strip()}")
    return [tokens for line in run.stdout.splitlines() if TAG in line
            for tokens in [shlex.split(line)] if tokens[:2] == ["-A", chain]]


def _bridge_of(rule: list[str]) -> str | None:
    for i, token in enumerate(rule[:-1]):
        if token == "--comment" and rule[i + 1].startswith(TAG):
            return rule[i + 1][len(TAG):]
    return None


def remove(bridge: str, host: FirewallHost = LOCAL) -> int:
    """Blocking. Remove every rule of one bridge; returns how many."""
    return _remove_where(lambda: lambda name: name == bridge, host)


def remove_orphans(live_bridges: Callable[[], Iterable[str]], host: FirewallHost = LOCAL) -> int:
    """Blocking. Remove the rules of bridges that do not exist (their network is gone: a crash).

    `live_bridges` is asked only after the rules were read: a network's rules are installed after the
    network exists, so a rule seen here whose bridge is missing from the later answer is truly orphaned
    (another bot on the same engine creating a network meanwhile loses nothing)."""

    def doomed() -> Callable[[str], bool]:
        live = set(live_bridges())
        return lambda name: name not in live

    return _remove_where(doomed, host)


def _remove_where(decide: Callable[[], Callable[[str], bool]], host: FirewallHost) -> int:
    found = [(chain, rule) for chain, _position in CHAINS for rule in rules_of(chain, host)]
    doomed = decide()
    removed = 0
    for chain, rule in found:
        name = _bridge_of(rule)
        if name is not None and doomed(name):
            run = host.run("-D", chain, *rule[2:])
            if run.returncode == 0:
                removed += 1
            elif "does a matching rule exist" not in run.stderr:  # (else another remover was first: gone)
                log.warning("could not remove a firewall rule of %s: %s", name, run.stderr.strip())
    return removed
