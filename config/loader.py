"""Loading `.github/codegen.yml` for a repository, with Probot-style `_extends`.

- The file is read through the contents API at the ref the caller gives: for a pull request that is the
  *base* branch, never the untrusted head (the head's file is only ever validated, for the config check).
- Parsed results are cached per (repository, path, blob sha): the fetch still happens (it tells the sha),
  but an unchanged file is not parsed and validated again.
- `_extends` inherits another file, as Probot's `context.config` does:
    `_extends: .github`                  → `{owner}/.github`, file `.github/codegen.yml`
    `_extends: other-repo`               → `{owner}/other-repo`, file `.github/codegen.yml`
    `_extends: owner2/repo`              → `owner2/repo`, file `.github/codegen.yml`
    `_extends: repo:path/file.yml`       → `{owner}/repo`, that file (also `owner2/repo:path/file.yml`)
  The inherited file is read at its repository's default branch, and with the installation of the
  repository being configured, and nothing else (as Probot does): a file that installation cannot read
  is "not found or not readable by this installation", never fetched with another customer's token.
  Mappings are merged key by key; lists and scalars of the extending file replace the inherited ones.
  Chains are followed up to 3 levels; a cycle, a deeper chain or a missing inherited file is an error.
- Errors never raise: they come back in `LoadedConfig.errors`, each with file, key path and line; with
  any error `config` is None and nothing else runs.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from gidgethub import BadRequest
from pydantic import ValidationError

from config.schema import RepoConfig
from config.yaml_source import KeyPath, ParsedYaml, YamlSyntaxError, format_path, parse_yaml

CONFIG_PATH = ".github/codegen.yml"
MAX_EXTENDS_DEPTH = 3
_EXTENDS = re.compile(r"^(?:(?P<owner>[A-Za-z0-9_.-]+)/)?(?P<repo>[A-Za-z0-9_.-]+)(?::(?P<path>[^\s:]+))?$")


@dataclass(frozen=True)
class ConfigError:
    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(root)'}: {self.message}"


@dataclass(frozen=True)
class FetchedFile:
    text: str
    blob_sha: str


@dataclass
class LoadedConfig:
    config: RepoConfig | None
    errors: list[ConfigError] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    #: blob sha of each source file, in the same order (tells two versions of the same file apart)
    blob_shas: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


#: (installation id, owner, repo, path, ref) → the file, read with that installation's token only
FetchFile = Callable[[int, str, str, str, str | None], Awaitable[FetchedFile | None]]


@dataclass(frozen=True)
class _Parsed:
    """One file: its data (without `_extends`), its `_extends` value, and its own errors."""

    data: dict[str, Any]
    extends: str | None
    lines: ParsedYaml | None
    errors: tuple[ConfigError, ...]


def _parse(text: str, file: str) -> _Parsed:
    try:
        parsed = parse_yaml(text)
    except YamlSyntaxError as exc:
        return _Parsed({}, None, None, (ConfigError(file, "", exc.line, exc.message),))
    data = parsed.data
    if data is None:
        return _Parsed({}, None, parsed, ())
    if not isinstance(data, dict):
        return _Parsed({}, None, parsed, (ConfigError(file, "", 1, "the file must be a mapping of keys"),))
    extends = data.pop("_extends", None)
    if extends is not None and not isinstance(extends, str):
        return _Parsed(data, None, parsed, (
            ConfigError(file, "_extends", parsed.line_of(("_extends",)), "must be a string such as .github"),
        ))
    return _Parsed(data, extends, parsed, ())


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merged key by key; anything else in `override` replaces `base`."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def validate(data: dict[str, Any], origin: dict[KeyPath, tuple[str, ParsedYaml | None]],
             default_file: str) -> tuple[RepoConfig | None, list[ConfigError]]:
    """Validate merged data; each error names the file that set the offending key (and its line)."""
    try:
        return RepoConfig.model_validate(data), []
    except ValidationError as exc:
        errors = []
        for item in exc.errors():
            loc: KeyPath = tuple(p for p in item["loc"] if isinstance(p, str | int))
            file, lines = _origin_of(loc, origin, default_file)
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "unknown key"
            elif message.startswith("Value error, "):
                message = message[len("Value error, "):]
            errors.append(ConfigError(file, format_path(loc), lines.line_of(loc) if lines else None, message))
        errors.sort(key=lambda e: (e.file, e.line or 0))
        return None, errors


def _origin_of(loc: KeyPath, origin: dict[KeyPath, tuple[str, ParsedYaml | None]],
               default_file: str) -> tuple[str, ParsedYaml | None]:
    path = loc
    while True:
        if path in origin:
            return origin[path]
        if not path:
            return default_file, None
        path = path[:-1]


def _record_origin(data: Any, path: KeyPath, file: str, lines: ParsedYaml | None,
                   origin: dict[KeyPath, tuple[str, ParsedYaml | None]]) -> None:
    origin[path] = (file, lines)
    if isinstance(data, dict):
        for key, value in data.items():
            _record_origin(value, (*path, key), file, lines, origin)


def load_text(text: str, file: str = CONFIG_PATH) -> LoadedConfig:
    """A single file, without following `_extends` (local checks)."""
    parsed = _parse(text, file)
    if parsed.errors:
        return LoadedConfig(None, list(parsed.errors), [file])
    origin: dict[KeyPath, tuple[str, ParsedYaml | None]] = {}
    _record_origin(parsed.data, (), file, parsed.lines, origin)
    config, errors = validate(parsed.data, origin, file)
    return LoadedConfig(config, errors, [file])


def parse_extends(value: str, owner: str) -> tuple[str, str, str] | None:
    """`_extends` → (owner, repo, path); None when the value has no such shape."""
    match = _EXTENDS.match(value.strip())
    if match is None:
        return None
    return match.group("owner") or owner, match.group("repo"), match.group("path") or CONFIG_PATH


#: how old a remembered config may be when an event is judged without a request (`recent`)
RECENT_MAX_AGE = 300.0


class RepoConfigLoader:
    """Loads and caches the config in force for (owner, repo, ref).

    `load` always asks GitHub (the answer tells whether the file changed). `recent` answers from the last
    load of the same (owner, repo, ref) when it is at most `RECENT_MAX_AGE` seconds old, without a request:
    it lets an event that concerns nobody (a check run of another app when nobody asked for a merge) cost
    nothing. Decision: a config change is seen by such events at most five minutes late; every pull request
    event, command and job still loads the config afresh."""

    def __init__(self, fetch_file: FetchFile, cache_size: int = 2048,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch_file
        self._clock = clock
        self._recent: LRUCache[tuple[str, str, str | None], tuple[float, LoadedConfig]] = LRUCache(maxsize=cache_size)
        self._parsed: LRUCache[tuple[str, str, str], _Parsed] = LRUCache(maxsize=cache_size)
        self.parse_count = 0  # files parsed (not served from the cache); for tests and metrics
        self._shas: dict[str, str] = {}

    async def _file(
        self, installation_id: int, owner: str, repo: str, path: str, ref: str | None
    ) -> tuple[str, _Parsed, str] | None:
        """(display name, parsed file, blob sha), or None when the file does not exist."""
        fetched = await self._fetch(installation_id, owner, repo, path, ref)
        if fetched is None:
            return None
        name = f"{owner}/{repo}:{path}"
        key = (f"{owner}/{repo}", path, fetched.blob_sha)
        parsed = self._parsed.get(key)
        if parsed is None:
            self.parse_count += 1
            parsed = await asyncio.to_thread(_parse, fetched.text, name)  # never on the event loop
            self._parsed[key] = parsed
        return name, parsed, fetched.blob_sha

    def recent(self, owner: str, repo: str, ref: str | None, max_age: float = RECENT_MAX_AGE) -> LoadedConfig | None:
        """The config the last `load` of (owner, repo, ref) found, if at most `max_age` seconds ago."""
        found = self._recent.get((owner, repo, ref))
        if found is None or self._clock() - found[0] > max_age:
            return None
        return found[1]

    async def load(self, owner: str, repo: str, ref: str | None, *, installation_id: int) -> LoadedConfig:
        """The config in force for `owner/repo` at `ref`, every file read as `installation_id`."""
        loaded = await self._load(owner, repo, ref, installation_id=installation_id)
        self._recent[(owner, repo, ref)] = (self._clock(), loaded)
        return loaded

    async def _load(self, owner: str, repo: str, ref: str | None, *, installation_id: int) -> LoadedConfig:
        first = await self._file(installation_id, owner, repo, CONFIG_PATH, ref)
        if first is None:
            return LoadedConfig(RepoConfig(), [], [])
        chain = [first]
        errors: list[ConfigError] = list(first[1].errors)
        name, parsed, _ = first
        while parsed.extends is not None and not errors:
            error, found = await self._follow(installation_id, owner, name, parsed, {n for n, _, _ in chain},
                                              len(chain))
            if error is not None:
                errors.append(error)
                break
            assert found is not None
            chain.append(found)
            errors.extend(found[1].errors)
            name, parsed, _ = found
        sources = [n for n, _, _ in chain]
        shas = [sha for _, _, sha in chain]
        if errors:
            return LoadedConfig(None, errors, sources, shas)
        merged: dict[str, Any] = {}
        origin: dict[KeyPath, tuple[str, ParsedYaml | None]] = {}
        for file_name, item, _ in reversed(chain):  # the most inherited first, the repository's own last
            merged = deep_merge(merged, item.data)
            _record_origin(item.data, (), file_name, item.lines, origin)
        config, errors = validate(merged, origin, sources[0])
        return LoadedConfig(config, errors, sources, shas)

    async def _follow(
        self, installation_id: int, owner: str, name: str, parsed: _Parsed, seen: set[str], depth: int
    ) -> tuple[ConfigError | None, tuple[str, _Parsed, str] | None]:
        """The file `parsed` extends, or the error that stops the chain."""
        assert parsed.extends is not None
        line = parsed.lines.line_of(("_extends",)) if parsed.lines else None
        target = parse_extends(parsed.extends, owner)
        if target is None:
            return ConfigError(name, "_extends", line, f"{parsed.extends!r} names no repository"), None
        if depth > MAX_EXTENDS_DEPTH:
            return ConfigError(name, "_extends", line, f"more than {MAX_EXTENDS_DEPTH} levels of _extends"), None
        t_owner, t_repo, t_path = target
        t_name = f"{t_owner}/{t_repo}:{t_path}"
        if t_name in seen:
            return ConfigError(name, "_extends", line, f"_extends cycle: {t_name} is already in the chain"), None
        try:
            found = await self._file(installation_id, t_owner, t_repo, t_path, None)
        except BadRequest as exc:
            if exc.status_code not in (403, 404):
                raise
            found = None
        if found is None:
            return ConfigError(
                name, "_extends", line, f"{t_name} was not found or not readable by this installation"
            ), None
        return None, found


def github_contents_fetcher(client_for: Callable[[int], Any]) -> FetchFile:
    """A FetchFile over `GET /repos/{owner}/{repo}/contents/{path}`, sent with the API client of the
    installation it is given (`client_for(installation_id)`), and with no other."""

    async def fetch(installation_id: int, owner: str, repo: str, path: str, ref: str | None) -> FetchedFile | None:
        gh = client_for(installation_id)
        url_vars: dict[str, str] = {"owner": owner, "repo": repo, "path": path}
        url = "/repos/{owner}/{repo}/contents/{+path}"
        if ref is not None:
            url += "{?ref}"
            url_vars["ref"] = ref
        try:
            data = await gh.getitem(url, url_vars)
        except BadRequest as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        content = data.get("content") or ""
        text = base64.b64decode(content).decode("utf-8", errors="replace") if content else ""
        return FetchedFile(text=text, blob_sha=str(data["sha"]))

    return fetch
