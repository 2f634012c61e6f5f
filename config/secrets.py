"""The operator's secrets for builds and tests (SECRETS_PATH and `CODEGEN_SECRET_<NAME>`), read at start-up.

A repository's `.github/codegen.yml` only *names* the secrets its steps need (`snapshot.secrets`); their
values live with the bot's operator, never in a repository:

- the YAML file at `SECRETS_PATH`, whose top-level keys are `owner/repo` (one repository) or `owner`
  (every repository of that user or organisation), each mapping NAME → value:

      octo-org/shop:
        NPM_TOKEN: "npm_…"
      octo-org:
        SENTRY_DSN: "https://…"

- the environment (or `.env`): `CODEGEN_SECRET_<NAME>=value` is NAME for every repository.

A name is looked up for one repository in that order: its own entry, then its owner's, then the
environment (`OperatorSecrets.resolve`). Keys ignore case, as GitHub's names do; secret names do not.

Decisions:
- Read once, at start-up (`load_operator_secrets`, called by settings validation): a malformed file stops
  start-up naming every problem, and never fails a validation later. A change takes effect at the next
  restart (which resumes the work under way), so a running validation never sees half a rotation.
- Names are `[A-Z_][A-Z0-9_]*`. Values are strings (a YAML number or boolean is refused: YAML would have
  changed `0755`, `1e3` or `yes` on the way), of at least `MIN_LENGTH` characters (shorter values would mask
  ordinary text, and the bot's own log redaction ignores them), without NUL.
- No error message ever quotes a value: YAML syntax errors name the line and column only (PyYAML's own
  message shows the offending line), and duplicate keys are refused instead of the last one winning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: what a secret's name looks like (also checked in `snapshot.secrets`)
NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
ENV_PREFIX = "CODEGEN_SECRET_"
MIN_LENGTH = 8
#: `owner` or `owner/repo` as GitHub spells them
_SCOPE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[A-Za-z0-9._-]+)?$")


class SecretsError(ValueError):
    """The operator's secrets are malformed; the message names every problem (never a value)."""


@dataclass(frozen=True)
class Resolved:
    """One repository's named secrets: the values found and the names no source provides."""

    values: dict[str, str] = field(repr=False)
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class OperatorSecrets:
    #: lower-cased `owner/repo` or `owner` → NAME → value (never in a repr: it could reach a log)
    scoped: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    #: `CODEGEN_SECRET_<NAME>` values: NAME → value
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: where the file was read from (for messages), None without SECRETS_PATH
    path: Path | None = None

    def resolve(self, repo: str, names: Iterable[str]) -> Resolved:
        """`repo` is `owner/name`: each name from the repository's entry, its owner's, or the environment."""
        owner = repo.split("/", 1)[0].lower()
        sources = (self.scoped.get(repo.lower(), {}), self.scoped.get(owner, {}), self.environment)
        values: dict[str, str] = {}
        missing: list[str] = []
        for name in names:
            found = next((source[name] for source in sources if name in source), None)
            if found is None:
                missing.append(name)
            else:
                values[name] = found
        return Resolved(values, tuple(missing))

    def all_values(self) -> list[str]:
        """Every value the operator provides (to register for redaction at start-up)."""
        out = [value for entry in self.scoped.values() for value in entry.values()]
        return [*out, *self.environment.values()]

    def where_to_set(self, repo: str, name: str) -> str:
        """Markdown, for a check run (so without the file's path on the bot's host): where the bot's operator
        provides `name` for `repo`."""
        owner = repo.split("/", 1)[0]
        return (f"in the bot's secrets file (`SECRETS_PATH`) under `{repo}:` (this repository) or `{owner}:`"
                f" (every repository of {owner}), or as the bot's environment variable `{ENV_PREFIX}{name}`"
                " (every repository); then restart the bot. See docs/secrets.md.")


def load_operator_secrets(path: Path | None, environ: Mapping[str, str]) -> OperatorSecrets:
    """The file at `path` (None: no file) and the `CODEGEN_SECRET_*` variables of `environ`; `SecretsError`
    naming every problem, prefixed with the setting it concerns."""
    problems: list[str] = []
    scoped: dict[str, dict[str, str]] = {}
    if path is not None:
        try:
            scoped = _read_file(path)
        except SecretsError as exc:
            problems.extend(f"SECRETS_PATH: {path}: {line}" for line in str(exc).splitlines())
    environment: dict[str, str] = {}
    for key in sorted(environ):
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX):]
            problem = _name_problem(name) or _value_problem(environ[key])
            if problem:
                problems.append(f"{key}: {problem}")
            else:
                environment[name] = environ[key]
    if problems:
        raise SecretsError("\n".join(problems))
    return OperatorSecrets(scoped, environment, path)


class _UniqueKeys(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


def _unique_mapping(loader: _UniqueKeys, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int) and key in seen:
            raise SecretsError(f"line {key_node.start_mark.line + 1}: `{key}` is given twice")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _read_file(path: Path) -> dict[str, dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"cannot be read ({type(exc).__name__}: {getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeys) or {}  # a SafeLoader: plain data only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        raise SecretsError(f"not valid YAML ({where}: {exc.problem or 'syntax error'})") from None
    except yaml.YAMLError:
        raise SecretsError("not valid YAML") from None
    if not isinstance(data, dict):
        raise SecretsError("must map `owner/repo` or `owner` to a mapping of NAME: value")
    return _entries(data)


def _entries(data: dict[Any, Any]) -> dict[str, dict[str, str]]:
    problems: list[str] = []
    scoped: dict[str, dict[str, str]] = {}
    for scope, entry in data.items():
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            problems.append(f"`{scope}`: a key must be `owner/repo` or `owner`")
            continue
        if scope.lower() in scoped:
            problems.append(f"`{scope}`: given twice (keys ignore case)")
            continue
        if not isinstance(entry, dict):
            problems.append(f"`{scope}`: must map secret names to values (NAME: value)")
            continue
        scoped[scope.lower()] = {}
        for name, value in entry.items():
            problem = _name_problem(name) or _value_problem(value)
            if problem:
                problems.append(f"`{scope}`: `{name}`: {problem}" if isinstance(name, str) else f"`{scope}`: {problem}")
            else:
                scoped[scope.lower()][name] = value
    if problems:
        raise SecretsError("\n".join(problems))
    return scoped


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not NAME.match(name):
        return "a secret's name must match [A-Z_][A-Z0-9_]* (upper case, digits, underscores)"
    return None


def _value_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "the value must be a string (quote it in YAML)"
    if len(value) < MIN_LENGTH:
        return f"the value is shorter than {MIN_LENGTH} characters (too short to be masked in output)"
    if "\0" in value:
        return "the value contains a NUL character"
    return None
