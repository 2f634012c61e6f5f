"""The schema of `.github/codegen.yml` (pydantic). Key names and defaults are the public interface:
add keys, never rename. docs/configuration.md documents every key.

Decisions:
- Unknown keys are errors (a typo such as `snapshot.tset` must not silently do nothing).
- No file means every default below, and nothing runs that the file does not ask for: no steps, no deploy,
  no web pages, no auto-merge.
- `snapshot.env` takes plain scalar values (numbers and booleans are turned into strings); repositories
  carry no secrets. `snapshot.secrets` *names* the operator's secrets the steps need (config/secrets.py,
  docs/secrets.md): anything that does not look like a name (`NAME=value`, lower case, an access key's
  shape) is an error, and no error message repeats the entry.
- `snapshot.image` and `snapshot.dockerfile` exclude each other when both are written.
- `snapshot.resources.memory` is a Docker-style size (`512m`, `2g`, `1.5g`, `1048576`); at least 6 MiB.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from config.secrets import NAME as SECRET_NAME

Permission = Literal["read", "triage", "write", "maintain", "admin"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MIN_MEMORY = 6 * 1024**2


def parse_size(value: str | int) -> int:
    """`512m` → 536870912. ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as 512m or 2g")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a size such as 512m or 2g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: the commands `agent.permissions` may name (handlers/commands/grammar.py `CommandKind` values)
COMMAND_NAMES = ("start", "continue", "confirm", "modify", "cancel", "status", "validate", "ok-to-test", "fix",
                 "merge", "merge cancel", "hold", "help")
#: commands that run untrusted code or merge: never open to less than write permission
WRITE_AT_LEAST = ("ok-to-test", "merge", "merge cancel", "hold")
_LEVELS = ("read", "triage", "write", "maintain", "admin")
_TEAM = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+$")


def _command_permissions(value: dict[str, str]) -> dict[str, str]:
    for command, rule in value.items():
        if command not in COMMAND_NAMES:
            raise ValueError(f"unknown command {command!r} (one of: {', '.join(COMMAND_NAMES)})")
        if rule not in _LEVELS and not _TEAM.match(rule):
            raise ValueError(f"{command}: {rule!r} is neither a permission ({', '.join(_LEVELS)}) nor a team"
                             " (`@org/team-slug`)")
        if command in WRITE_AT_LEAST and rule in _LEVELS and _LEVELS.index(rule) < _LEVELS.index("write"):
            raise ValueError(f"{command}: runs or merges code, so it needs at least `write` (not {rule!r})")
    return value


class AgentConfig(Section):
    min_permission: Permission = "write"
    #: per command: the least permission, or a team (`@org/team-slug`) whose members may run it; commands not
    #: named keep the default (`min_permission`; at least `write` for those in WRITE_AT_LEAST)
    permissions: Annotated[dict[str, str], AfterValidator(_command_permissions)] = Field(default_factory=dict)
    prompt_prefix: str = ""
    max_fix_attempts: int = Field(default=3, ge=0, le=20)
    #: whose comments go into the agent's prompt: the repository's owners, members and collaborators
    #: (GitHub's `author_association`), or everyone's
    prompt_comments: Literal["collaborators", "all"] = "collaborators"


class Resources(Section):
    cpus: float = Field(default=2, gt=0, le=64)
    memory: str = "2g"
    pids: int = Field(default=512, ge=16, le=65536)

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> str:
        size = parse_size(value)
        if size < MIN_MEMORY:
            raise ValueError("must be at least 6m (Docker's minimum)")
        return str(value)

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


#: values that match a name's pattern but are credentials (AWS access key ids)
_KEY_SHAPED = re.compile(r"^(?:AKIA|ASIA)[A-Z0-9]{16}$")
_WHERE_VALUES_GO = "values are never written here: the bot's operator provides them (docs/secrets.md)"


def _secret_names(value: Any) -> Any:
    """`snapshot.secrets`: a list of distinct names; never echoes an entry (it may be a value)."""
    if isinstance(value, dict):
        raise ValueError(f"a list of secret names, such as [NPM_TOKEN]; {_WHERE_VALUES_GO}")
    if not isinstance(value, list):
        return value  # left for the type check to reject
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, str):
            raise ValueError(f"entry {number} is not a name; {_WHERE_VALUES_GO}")
        if "=" in entry or ":" in entry:
            raise ValueError(f"entry {number} gives a value: write the name alone (NAME); {_WHERE_VALUES_GO}")
        if not SECRET_NAME.match(entry) or _KEY_SHAPED.match(entry) or len(entry) > 100:
            raise ValueError(f"entry {number} is not a secret's name ([A-Z_][A-Z0-9_]*) and may be a value;"
                             f" {_WHERE_VALUES_GO}")
        if entry in value[: number - 1]:
            raise ValueError(f"entry {number} ({entry}) is named twice")
    return value


class SnapshotConfig(Section):
    image: str = "python:3.12-slim"
    dockerfile: str | None = None
    workdir: str = "/workspace"
    env: dict[str, str] = Field(default_factory=dict)
    setup: list[str] = Field(default_factory=list)
    build: list[str] = Field(default_factory=list)
    test: list[str] = Field(default_factory=list)
    deploy: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    step_timeout_minutes: int = Field(default=10, ge=1, le=24 * 60)
    resources: Resources = Field(default_factory=Resources)
    #: reuse the result of `setup` while the image, the setup commands, env and dependency manifests are
    #: unchanged (only for setups that install dependencies, not the project itself)
    cache_setup: bool = False
    #: the snapshot's way out (validators/sandbox_network.py): `setup-only` cuts it once `setup` has run,
    #: `full` keeps it for every stage, `none` never has one. Private, link-local and host addresses and other
    #: snapshots are out of reach either way.
    network: Literal["setup-only", "full", "none"] = "setup-only"
    #: the operator's secrets (by name) that the `build` and `test` commands and the deployed app get as
    #: environment variables, in trusted runs only; never `setup` (docs/secrets.md)
    secrets: list[str] = Field(default_factory=list)

    @field_validator("secrets", mode="before")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        return _secret_names(value)

    @field_validator("env", mode="before")
    @classmethod
    def _plain_env(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, bool):
                out[str(key)] = "true" if item else "false"
            elif isinstance(item, int | float | str):
                out[str(key)] = str(item)
            else:
                out[str(key)] = item  # left for the type check to reject
        return out

    @field_validator("workdir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path")
        return value

    @model_validator(mode="after")
    def _image_or_dockerfile(self) -> SnapshotConfig:
        if self.dockerfile is not None and "image" in self.model_fields_set:
            raise ValueError("give either `image` or `dockerfile`, not both")
        both = sorted(set(self.secrets) & set(self.env))
        if both:
            raise ValueError(f"{', '.join(both)}: in both `env` and `secrets`; a variable is one or the other")
        return self


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value


UrlPath = Annotated[str, AfterValidator(_url_path)]


class HealthCheck(Section):
    path: UrlPath = "/"
    timeout_seconds: int = Field(default=60, ge=1, le=3600)


class Viewport(Section):
    width: int = Field(ge=200, le=4000)
    height: int = Field(ge=200, le=4000)


class WebPage(Section):
    path: UrlPath
    status: int | None = Field(default=None, ge=100, le=599)  # None: any 2xx
    text: str | None = None
    selector: str | None = None
    timeout_seconds: int = Field(default=30, ge=1, le=600)


class FieldValue(Section):
    selector: str
    value: str


class KeyPress(Section):
    key: str
    selector: str | None = None


STEP_KINDS = (
    "goto", "fill", "click", "wait_for", "expect_text", "expect_url", "expect_no_console_errors",
    "screenshot", "press", "select",
)


class FlowStep(Section):
    """Exactly one of the keys below, e.g. `- click: "button[type=submit]"`."""

    goto: str | None = None
    fill: FieldValue | None = None
    click: str | None = None
    wait_for: str | None = None
    expect_text: str | None = None
    expect_url: str | None = None
    expect_no_console_errors: bool | None = None
    screenshot: str | None = None
    press: KeyPress | str | None = None
    select: FieldValue | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> FlowStep:
        given = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a step has exactly one of: {', '.join(STEP_KINDS)} (got {len(given)})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


class WebFlow(Section):
    name: str
    timeout_seconds: int = Field(default=60, ge=1, le=1800)
    steps: Annotated[list[FlowStep], Field(min_length=1)]


class WebEvalConfig(Section):
    viewport: Literal["desktop", "mobile"] | Viewport = "desktop"
    pages: list[WebPage] = Field(default_factory=list)
    flows: list[WebFlow] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.pages or self.flows)

    @property
    def size(self) -> tuple[int, int]:
        if isinstance(self.viewport, Viewport):
            return self.viewport.width, self.viewport.height
        return (390, 844) if self.viewport == "mobile" else (1280, 800)


class AnalysisConfig(Section):
    enabled: bool = True
    languages: list[str] = Field(default_factory=lambda: ["python", "javascript", "typescript"])


class MergeConfig(Section):
    auto_merge: bool = False
    method: Literal["merge", "squash", "rebase"] = "squash"
    required_checks: list[str] = Field(default_factory=lambda: ["codegen/build", "codegen/test"])
    delete_branch: bool = True
    validate_drafts: bool = False
    use_github_auto_merge: bool = False
    #: when the head is behind its base, update the branch (GitHub merges the base into it) and validate again
    update_branch: bool = False
    #: the bot's own merge train (no GitHub merge queue): ready PRs merge one at a time, in order of readiness,
    #: each validated again on top of the current base first (handlers/merge/train.py)
    train: bool = False
    #: the GitHub App that must report a required check (check name → app id), e.g. `ci/lint: 15368`
    #: for GitHub Actions; wins over branch protection's choice. `codegen/*` checks count only from this bot.
    check_apps: dict[str, int] = Field(default_factory=dict)


class RepoConfig(Section):
    agent: AgentConfig = Field(default_factory=AgentConfig)
    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    web_eval: WebEvalConfig = Field(default_factory=WebEvalConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)
