"""docker-compose.yml started for real (tests/e2e/test_compose_up.py): a copy of the project in a temporary
directory with a dummy App's `.env`, brought up with deploy/compose.local.yml (every image built locally, no
registry) under a unique project name (`codegen-compose-…`) and a free port, and always taken down with its
volumes. Images (`codegen-compose-*:local`) are kept: the next run reuses them and the build cache."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.fakes.github_ids import new_rsa_key
from tests.support.required import unavailable
from tests.support.serve_process import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: the first cold build apt-installs Chromium, PostgreSQL, nginx and docker.io and pip-installs the bot
BUILD_TIMEOUT = 1800


def ensure_compose() -> None:
    """`docker compose` v2 (scripts/ensure-compose.sh installs it when missing), else skip (fail in CI)."""
    if _compose_version() is not None:
        return
    run = subprocess.run([str(ROOT / "scripts" / "ensure-compose.sh")], capture_output=True, text=True)
    if _compose_version() is None:
        unavailable(f"docker compose v2 unavailable: {run.stderr[-1500:]}",
                    in_ci=f"docker compose v2 is required in CI: scripts/ensure-compose.sh said {run.stderr[-1500:]}")


def _compose_version() -> str | None:
    try:
        run = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stdout.strip() if run.returncode == 0 and run.stdout.strip().startswith("2.") else None


def privileged_works(image: str) -> bool:
    """Whether this Docker host can start a `privileged` container at all (a sandboxed engine without some
    capability cannot: "unable to apply caps"); deploy/compose.unprivileged.yml is for the hosts that cannot."""
    name = f"codegen-compose-probe-{secrets.token_hex(4)}"
    run = subprocess.run(["docker", "run", "--rm", "--name", name, "--privileged", image, "true"],
                         capture_output=True, text=True, timeout=120)
    return run.returncode == 0


def build_sources() -> list[str]:
    """What the project copy needs: the compose files, deploy/, and whatever the Dockerfile COPYs."""
    copied = re.findall(r"^COPY\s+(?!--)(.+?)\s+\S+\s*$", (ROOT / "Dockerfile").read_text(), re.M)
    names = {name for line in copied for name in line.split()}
    return sorted(names | {"Dockerfile", ".dockerignore", "docker-compose.yml", "deploy"})


def copy_project(target: Path) -> None:
    for name in build_sources():
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)


def dummy_app_env(public_url: str) -> str:
    """A `.env` as `make run`'s setup page writes it, for an App that does not exist (a fresh RSA key)."""
    key, _public = new_rsa_key()
    values = {
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": key.strip().replace("\n", "\\n"),
        "GITHUB_WEBHOOK_SECRET": secrets.token_hex(16),
        "GITHUB_CLIENT_ID": "Iv1.codegencomposetest",
        "GITHUB_CLIENT_SECRET": secrets.token_hex(16),
        "CODEGEN_API_TOKEN": secrets.token_hex(16),
        "CODEGEN_ORG_ID": "1",
        "PUBLIC_URL": public_url,
    }
    return "".join(f"{name}={value}\n" for name, value in values.items())


@dataclass
class ComposeProject:
    directory: Path
    port: int
    unprivileged: bool
    name: str = field(default_factory=lambda: f"codegen-compose-{secrets.token_hex(4)}")
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path, *, unprivileged: bool) -> ComposeProject:
        copy_project(directory)
        port = free_port()
        (directory / ".env").write_text(dummy_app_env(f"http://127.0.0.1:{port}"))
        project = cls(directory, port, unprivileged)
        ca = Path(os.environ.get("SNAPSHOT_CA_BUNDLE") or DEFAULT_CA_BUNDLE)
        if not ca.is_file():  # no bundle to hand over: an empty secret, pip uses its own
            ca = directory / "no-ca-bundle.pem"
            ca.touch()
        project.env = {**os.environ, "POSTGRES_PASSWORD": secrets.token_hex(12),
                       "CODEGEN_PROXY_PORT": str(port), "CODEGEN_CA_BUNDLE": str(ca)}
        for inherited in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
            project.env.pop(inherited, None)
        return project

    @property
    def files(self) -> list[str]:
        names = ["docker-compose.yml", "deploy/compose.local.yml"]
        return names + (["deploy/compose.unprivileged.yml"] if self.unprivileged else [])

    def compose(self, *args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-p", self.name, "--project-directory", str(self.directory)]
        for name in self.files:
            command += ["-f", str(self.directory / name)]
        return subprocess.run([*command, *args], cwd=self.directory, env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=stdin)

    def up(self) -> None:
        run = self.compose("up", "-d", "--build", timeout=BUILD_TIMEOUT)
        assert run.returncode == 0, f"docker compose up failed:\n{run.stderr[-4000:]}\n{self.diagnostics()}"

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=300)

    def exec(self, service: str, *command: str) -> subprocess.CompletedProcess[str]:
        return self.compose("exec", "-T", service, *command, timeout=120)

    def python(self, service: str, code: str) -> str:
        """`code` run by the service's python3 (as its user); its output, or an AssertionError with the logs."""
        run = self.exec(service, "python3", "-c", code)
        assert run.returncode == 0, f"{service}: {run.stderr[-3000:]}\n{self.diagnostics()}"
        return run.stdout

    def address(self, service: str) -> str:
        """The service's IP address on the project's network."""
        container = self.compose("ps", "-q", service).stdout.strip()
        networks = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        inspect = subprocess.run(["docker", "inspect", "-f", networks, container], capture_output=True, text=True,
                                 timeout=60)
        return inspect.stdout.split()[0]

    def running(self) -> set[str]:
        run = self.compose("ps", "--status", "running", "--services")
        return set(run.stdout.split())

    def diagnostics(self) -> str:
        ps = self.compose("ps", "-a").stdout
        logs = self.compose("logs", "--no-color", "--tail", "40").stdout
        return f"--- docker compose ps\n{ps}\n--- logs (last lines)\n{logs[-8000:]}"

    def wait_for_healthz(self, deadline_seconds: float = 180) -> tuple[int, str]:
        """`GET /healthz` through the proxy until it answers 200 (the replicas migrate and start first)."""
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + deadline_seconds
        last: tuple[int, str] = (0, "no answer")
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as exc:
                last = (exc.code, exc.read().decode(errors="replace"))
            except OSError as exc:
                last = (0, str(exc))
            time.sleep(1)
        return last
