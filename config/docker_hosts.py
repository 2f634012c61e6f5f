"""`DOCKER_HOSTS`: the Docker engines of one replica (issue 16), parsed (pure). Where a validation runs is
decided in validators/engines.py (`place`); the pool is validators/engine_pool.py.

Each endpoint is `unix://PATH`, `tcp://HOST:PORT` or `ssh://[USER@]HOST`, with optional per-host settings as a
query string:

    tcp://build-1:2376?tls_verify=1&cert_path=/etc/codegen-bot/certs/build-1&slots=4
    ssh://bot@build-2?slots=2
    unix:///var/run/docker.sock

- `slots`: validations at once on that engine (default `VALIDATION_CONCURRENCY`);
- `tls_verify`, `cert_path` (tcp): as `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` (ca.pem, cert.pem, key.pem),
  which are the default for every tcp endpoint; TLS is used when either is set;
- `remote`: whether the bot does NOT share the engine's host network. Default: `unix://` shares it, `tcp://`
  and `ssh://` do not. See validators/engine_host.py for what changes on a remote engine.
Empty: the environment's engine (`DOCKER_HOST` …, as `docker.from_env()` reads them), remote when
`DOCKER_HOST` is not a unix socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

SCHEMES = ("unix", "tcp", "ssh")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class EngineSpec:
    #: the endpoint without its query ("" = the environment's engine, `docker.from_env()`)
    url: str
    slots: int
    remote: bool
    tls_verify: bool = False
    cert_path: str | None = None

    @property
    def name(self) -> str:
        """For logs and metrics: the endpoint without credentials."""
        if not self.url:
            return "default"
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return self.url
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _flag(value: str, what: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ValueError(f"{what} must be true or false, not {value!r}")


def default_spec(slots: int, env: Mapping[str, str]) -> EngineSpec:
    """The environment's engine (DOCKER_HOST; a unix socket when unset)."""
    scheme = urlsplit(env.get("DOCKER_HOST", "") or "unix://").scheme
    return EngineSpec("", slots, remote=scheme not in ("unix", "npipe", ""))


def parse_docker_hosts(value: str, default_slots: int, env: Mapping[str, str] | None = None) -> list[EngineSpec]:
    """`DOCKER_HOSTS` → the engines (pure; `env` gives DOCKER_TLS_VERIFY/DOCKER_CERT_PATH). ValueError names
    the bad entry."""
    env = env or {}
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if not entries:
        return [default_spec(default_slots, env)]
    specs = [_parse_one(entry, default_slots, env) for entry in entries]
    seen: set[str] = set()
    for spec in specs:
        if spec.url in seen:
            raise ValueError(f"{spec.name} is listed twice")
        seen.add(spec.url)
    return specs


def _parse_one(entry: str, default_slots: int, env: Mapping[str, str]) -> EngineSpec:
    parts = urlsplit(entry)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{entry.split('?')[0]!r}: the endpoint must start with unix://, tcp:// or ssh://")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(f"{entry!r}: unix:// needs a socket path")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"{entry.split('?')[0]!r}: needs a host")
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"slots", "tls_verify", "cert_path", "remote"}
    if unknown:
        raise ValueError(f"{entry.split('?')[0]!r}: unknown setting {', '.join(sorted(unknown))}")
    try:
        slots = int(query.get("slots", default_slots))
    except ValueError:
        raise ValueError(f"{entry.split('?')[0]!r}: slots must be a whole number") from None
    if not 1 <= slots <= 64:
        raise ValueError(f"{entry.split('?')[0]!r}: slots must be between 1 and 64")
    remote = _flag(query["remote"], "remote") if "remote" in query else parts.scheme != "unix"
    tls = parts.scheme == "tcp"
    verify = _flag(query.get("tls_verify", env.get("DOCKER_TLS_VERIFY", "")), "tls_verify") if tls else False
    cert_path = (query.get("cert_path") or env.get("DOCKER_CERT_PATH") or None) if tls else None
    url = entry.split("?", 1)[0]
    return EngineSpec(url, slots, remote, verify, cert_path)
