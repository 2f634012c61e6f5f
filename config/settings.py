"""The app's own settings, read from the environment and from `.env`.

The names are the public interface (deployments set them); never rename one.
A bad value stops start-up with a message that names the variable (`SettingsError`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.docker_hosts import parse_docker_hosts
from config.schema import parse_size
from config.secrets import OperatorSecrets, SecretsError, load_operator_secrets

#: WORKER_CONCURRENCY's default on PostgreSQL (bench/handling.py: 643/s at 4, 1,101/s at 16, one replica)
POSTGRES_WORKER_CONCURRENCY = 16


class SettingsError(Exception):
    """A setting has a bad value; the message names every offending variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
    )

    # --- GitHub App (issue 2) -------------------------------------------------------------
    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    github_url: str = "https://github.com"
    #: the App's OAuth client (written by the manifest flow): GitHub sign-in of the status page (`/status`)
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None

    # --- Codegen API (issue 3) ------------------------------------------------------------
    codegen_api_url: str = "https://api.codegen.com"
    codegen_api_token: SecretStr | None = None
    codegen_org_id: int | None = None
    #: optional YAML/JSON file mapping "owner/repo" or "owner" to another Codegen org id
    codegen_org_map_path: Path | None = None
    #: an agent run whose status has not changed for this long is reported stale and no longer polled
    agent_run_stale_minutes: int = Field(default=60, ge=1)
    #: how often the reconciler looks for stuck work and missed events (also once at start-up)
    reconcile_minutes: float = Field(default=10.0, gt=0)
    #: the reconciler also validates open pull requests of active repositories whose head was never seen
    reconcile_open_prs: bool = True
    #: first poll of a followed agent run after this many seconds; later polls back off (5 s … 60 s)
    agent_poll_seconds: float = Field(default=5.0, gt=0, le=300)

    # --- Web evaluation (issue 5) -----------------------------------------------------------
    #: the Chromium that Playwright drives (Debian's package; never `playwright install`)
    chromium_path: Path = Path("/usr/bin/chromium")
    #: validations running a browser at once
    web_eval_max_concurrent: int = Field(default=2, ge=1, le=32)
    #: where screenshots and traces are kept
    artifacts_dir: Path = Path(".cache/codegen-bot/artifacts")
    #: signed artifact URLs stay valid this long
    artifact_url_ttl_hours: float = Field(default=168, gt=0)
    #: key of the artifact URL signatures (default: derived from GITHUB_WEBHOOK_SECRET)
    artifact_signing_key: SecretStr | None = None

    # --- Validation (issue 4) ---------------------------------------------------------------
    #: validations run at once
    validation_concurrency: int = Field(default=2, ge=1, le=64)
    #: a CA bundle mounted read-only into every snapshot container (for TLS-inspecting proxies); the
    #: container's SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS point at it
    snapshot_ca_bundle: Path | None = None
    #: where the per-repository bare git caches live
    git_cache_dir: Path = Path(".cache/codegen-bot/git")
    #: the replica's Docker engines (issue 16): comma-separated `unix://`, `tcp://` (TLS from DOCKER_TLS_VERIFY /
    #: DOCKER_CERT_PATH or `?tls_verify=1&cert_path=DIR`) and `ssh://` endpoints, `?slots=N` each (default
    #: VALIDATION_CONCURRENCY per engine); empty: the environment's engine, as before (validators/engines.py)
    docker_hosts: str = ""

    #: operator caps on every repository's `snapshot.resources` and timeouts (issue 12): a repository
    #: config asks, these decide. CPUs (fractional), memory (e.g. "4g"), minutes of a whole validation.
    snapshot_max_cpus: float = Field(default=4.0, gt=0, le=256)
    snapshot_max_memory: str = "8g"
    snapshot_max_minutes: int = Field(default=60, ge=1, le=24 * 60)
    #: the images a repository's `snapshot.image` and every `FROM` of its `snapshot.dockerfile` may name
    #: (comma-separated globs, Docker Hub names canonicalised: `python:*` is docker.io/library/python only;
    #: see validators/image_policy.py). Default: the locally built base image and the official Python,
    #: Node and Debian images.
    snapshot_allowed_images: str = "codegen-bot-base:*,python:*,node:*,debian:*"
    #: the operator's secrets for builds and tests (issue 17): a YAML file mapping `owner/repo` or `owner` to
    #: NAME → value, read at start-up (config/secrets.py); `CODEGEN_SECRET_<NAME>` variables add to it
    secrets_path: Path | None = None
    #: give secrets to code from a fork too (a PR whose head repository is not the base repository)
    secrets_for_forks: bool = False
    _operator_secrets: OperatorSecrets | None = PrivateAttr(default=None)

    # --- Status page (issue 17; handlers/status/, docs/status-page.md) ----------------------
    #: key of the status page's signed cookies (default: derived from GITHUB_WEBHOOK_SECRET)
    status_session_secret: SecretStr | None = None
    #: a signed-in session lasts at most this long (and never past the GitHub user token's expiry)
    status_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    #: `org/team`: its active members are operators of the status page, besides the App's owner
    status_admin_team: str | None = None

    # --- Engine ---------------------------------------------------------------------------
    database_url: str = "sqlite:///codegen-bot.db"
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    #: a separate address for `/metrics` (and the operator pages): when ADMIN_PORT is set, they are served
    #: there only, and the public HOST:PORT answers 404 for them
    admin_host: str = "127.0.0.1"
    admin_port: int | None = Field(default=None, ge=0, le=65535)
    #: refuse a signed body already stored under another delivery id (a replay); GitHub's own
    #: redeliveries keep their id. Only benchmarks that send one body many times turn it off.
    webhook_replay_check: bool = True
    #: public base URL of this bot (used for the manifest flow's redirect and artifact links);
    #: empty means "derive from the incoming request"
    public_url: str = ""
    #: deliveries handled at once by the worker (unset: `handling_concurrency` picks 4 on SQLite, 16 on
    #: PostgreSQL, where each delivery waits on three round trips to the server: see the README's figures)
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    #: while webhooks keep arriving, deliveries started per second (ingest first; 0 = no limit)
    worker_rate_under_load: float = Field(default=20.0, ge=0)
    #: processes that serve HOST:PORT and verify webhooks in parallel, passing deliveries to the one process
    #: that writes the store (0: that process serves HTTP itself); see bot/intake/process_pool.py.
    #: Default: 2 on a machine with two or more CPUs (measured 5,835 vs 4,429 deliveries/s: see the README), else 0
    intake_processes: int = Field(default_factory=lambda: 2 if (os.cpu_count() or 1) >= 2 else 0, ge=0, le=64)
    #: the GitHub App manifest served by the setup page (default: app.yml in the working directory,
    #: else the one beside the source tree)
    app_manifest_path: Path | None = None
    #: longest wait on a GitHub rate limit before a request gives up (seconds)
    github_max_rate_limit_wait: float = Field(default=900.0, ge=0)

    # --- Several replicas on one PostgreSQL store (issue 16; bot/dispatch/claims.py) -------------------
    #: a job or delivery claimed by a replica that died is claimed by another this long after its last renewal
    job_lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    #: this replica's name in the store's claims (default: host name and PORT); unique per replica
    replica_id: str | None = None

    # --- Retention (issue 17; docs/retention.md) -------------------------------------------------
    #: ended deliveries, jobs and validations, setup and build images and bare git caches are kept this long
    #: after they ended or were last used; at least 4 days, beyond GitHub's 3 days of redelivery (a delivery
    #: GitHub may still send again must be found, to be answered as a duplicate)
    retention_days: float = Field(default=30.0, ge=4)
    #: web-evaluation artifacts (screenshots, traces) are kept this long after they were written
    artifact_retention_days: float = Field(default=14.0, gt=0)
    #: how often the retention sweep runs (also shortly after start-up)
    retention_sweep_minutes: float = Field(default=60.0, gt=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("github_api_url", "github_url", "codegen_api_url", "public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("status_admin_team")
    @classmethod
    def _team(cls, value: str | None) -> str | None:
        if not value:
            return None
        org, _, slug = value.strip().lstrip("@").partition("/")
        if not org or not slug or "/" in slug:
            raise ValueError("must be ORG/TEAM-SLUG")
        return f"{org}/{slug}"

    @field_validator("docker_hosts")
    @classmethod
    def _docker_hosts(cls, value: str) -> str:
        parse_docker_hosts(value, 1)  # raises ValueError naming the bad endpoint
        return value.strip()

    @field_validator("snapshot_max_memory")
    @classmethod
    def _size(cls, value: str) -> str:
        parse_size(value)  # raises ValueError with the reason
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("must be sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE")

    # --- derived --------------------------------------------------------------------------
    @property
    def database_backend(self) -> Literal["sqlite", "postgresql"]:
        """Which store DATABASE_URL names (bot/store/db.py `open_database`)."""
        return "sqlite" if self.database_url.startswith("sqlite:///") else "postgresql"

    @property
    def handling_concurrency(self) -> int:
        """Deliveries handled at once: WORKER_CONCURRENCY when set, else 4 on SQLite and 16 on PostgreSQL."""
        if "worker_concurrency" in self.model_fields_set or self.database_backend == "sqlite":
            return self.worker_concurrency
        return POSTGRES_WORKER_CONCURRENCY

    @property
    def database_path(self) -> str:
        """The SQLite file (meaningful only when `database_backend` is "sqlite")."""
        return self.database_url.removeprefix("sqlite:///")

    def private_key(self) -> str | None:
        """The App's PEM key, from GITHUB_PRIVATE_KEY or the file at GITHUB_PRIVATE_KEY_PATH."""
        if self.github_private_key is not None:
            # keys pasted into env vars often carry literal "\n"
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            return self.github_private_key_path.read_text()
        return None

    def operator_secrets(self) -> OperatorSecrets:
        """The secrets read at start-up by `load_settings` (read from the process environment alone when the
        settings were built another way)."""
        if self._operator_secrets is None:
            self._operator_secrets = load_operator_secrets(self.secrets_path, os.environ)
        return self._operator_secrets

    @property
    def app_configured(self) -> bool:
        """True when the App can authenticate and verify webhooks."""
        return (
            self.github_app_id is not None
            and (self.github_private_key is not None or self.github_private_key_path is not None)
            and self.github_webhook_secret is not None
        )

    def secret_values(self) -> list[str]:
        """Every secret's value, so log and output scrubbing can mask them."""
        out: list[str] = []
        for secret in (self.github_private_key, self.github_webhook_secret, self.codegen_api_token,
                       self.github_client_secret, self.status_session_secret):
            if secret is not None and secret.get_secret_value():
                out.append(secret.get_secret_value())
        return out


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning pydantic's error into one naming each bad variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
    if settings.github_private_key_path is not None and not settings.github_private_key_path.is_file():
        raise SettingsError(
            f"invalid settings:\n  GITHUB_PRIVATE_KEY_PATH: no file at {settings.github_private_key_path}"
        )
    try:
        settings._operator_secrets = load_operator_secrets(settings.secrets_path, _environment(overrides))
    except SecretsError as exc:
        raise SettingsError("invalid settings:\n  " + str(exc).replace("\n", "\n  ")) from None
    return settings


def _environment(overrides: Mapping[str, object]) -> dict[str, str]:
    """The variables settings are read from: `.env` (or the `_env_file` given), then the process's own."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    values: dict[str, str] = {}
    if isinstance(env_file, str | Path) and Path(env_file).is_file():
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**values, **os.environ}
