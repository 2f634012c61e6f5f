"""Validation benchmark (figures, not a test). Needs Docker and the base image (`make docker`).

(a) Time from a `pull_request` delivery to the `queued` check runs on the fake GitHub (in this process;
    the validation job itself is replaced by a no-op so that only the reaction is timed): p50/p99 over N.
(b) The bot's overhead on the example project (examples/hello-app, committed into a scratch git repo):
    whole validation wall time minus the time spent inside the user's steps, against a shell script that
    does the least possible with the docker CLI (create, copy the tree in, exec the same steps, remove)
    on the same commit, in the same run.
    The example project gets a few real pip dependencies (--extra-deps, default flask sqlalchemy pydantic
    requests) so that installing them is part of the work.
(c) Cold vs warm: the same validation with the repository's dependency caches (pip, npm volumes and the
    `snapshot.cache_setup` image) removed, then again after a one-line change with the caches warm.

    .venv/bin/python bench/validation.py [--deliveries 100]
Set SNAPSHOT_CA_BUNDLE (e.g. /etc/ssl/certs/ca-certificates.crt) behind a TLS-inspecting proxy.
The fake GitHub runs without its contract checks here (`contract_checks=False`; the tests keep them):
validating every request against the OpenAPI description costs ~10 ms each in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker

from bench.stats import pct
from bot.dispatch.jobs import Job
from config.loader import load_text
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import bot_settings, launch
from tests.support.payloads import pull_request_event
from validators.pipeline import CACHE_ENV, ValidationRequest, cache_volumes, validate
from validators.setup_cache import setup_images

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hello-app"
REPO = "octo-org/hello"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def scratch_repo(tmp: Path, extra_deps: list[str]) -> tuple[Path, str]:
    repo = tmp / "hello"
    shutil.copytree(EXAMPLE, repo)
    if extra_deps:  # a project with real dependencies, so that the dependency cache matters
        with (repo / "requirements.txt").open("a") as f:
            f.write("".join(f"{dep}\n" for dep in extra_deps))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=b@e.c", "-c", "user.name=b", "commit", "-q", "-m", "x")
    return repo, git(repo, "rev-parse", "HEAD")


async def queued_latency(n: int, tmp: Path) -> None:
    fake = FakeGitHub(contract_checks=False)
    await fake.start()
    inst = fake.add_installation("octo-org", [REPO])
    fake.set_permission(REPO, "dev", "write")
    settings = bot_settings(fake, tmp, log_level="WARNING", database_url=f"sqlite:///{tmp}/q.db")
    bot = await launch(settings, tmp / ".env")

    async def no_op(_job: Job) -> None:
        return None

    assert bot.server.jobs is not None
    bot.server.jobs.register("validation", no_op)
    fake.set_file(REPO, ".github/codegen.yml", (EXAMPLE / ".github" / "codegen.yml").read_text())
    samples: list[float] = []
    try:
        for _ in range(n):
            number = fake.add_pull(REPO, user="dev").number
            event = pull_request_event(fake, REPO, number, inst.id, sender="dev")
            sha = event["pull_request"]["head"]["sha"]
            started = time.monotonic()
            await bot.deliver("pull_request", event)
            while True:
                hit = next((r for r in fake.requests if r.operation_id == "checks/create"
                            and (r.json or {}).get("head_sha") == sha and (r.json or {}).get("status") == "queued"),
                           None)
                if hit is not None:
                    break
                if time.monotonic() - started > 10:
                    raise RuntimeError("no queued check run within 10 s")
                await asyncio.sleep(0.0005)
            samples.append((hit.at - started) * 1000)
    finally:
        await bot.stop()
        await fake.close()
    print(f"(a) delivery → first queued check run, {n} PRs: p50 {statistics.median(samples):.1f} ms,"
          f" p99 {pct(samples, 99):.1f} ms")


async def bot_validation(client: docker.DockerClient, repo: Path, sha: str) -> tuple[float, float, bool]:
    config = load_text((repo / ".github" / "codegen.yml").read_text()).config
    assert config is not None
    source = subprocess.run(["git", "archive", "--format=tar", sha], cwd=repo, capture_output=True,
                            check=True).stdout
    ca = os.environ.get("SNAPSHOT_CA_BUNDLE")
    request = ValidationRequest(
        validation_id=uuid.uuid4().hex, repo=REPO, sha=sha, config=config, source_tar=source,
        changed_files={"app/server.py": (repo / "app" / "server.py").read_bytes()}, docker=client,
        ca_bundle=Path(ca) if ca else None,
    )
    started = time.monotonic()
    report = await validate(request)
    return time.monotonic() - started, report.user_time, report.passed


def floor_script(repo: Path, sha: str) -> tuple[float, float]:
    """The least the docker CLI can do: returns (wall time, time inside the steps)."""
    config = load_text((repo / ".github" / "codegen.yml").read_text()).config
    assert config is not None
    snap = config.snapshot
    name = f"bench-floor-{uuid.uuid4().hex[:8]}"
    tar = repo.parent / "floor.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(tar), sha], cwd=repo, check=True)
    ca = os.environ.get("SNAPSHOT_CA_BUNDLE")
    mounts = ["-v", f"{ca}:/etc/codegen-bot/ca.crt:ro", "-e", "PIP_CERT=/etc/codegen-bot/ca.crt"] if ca else []
    caches = [a for v, p in cache_volumes(REPO).items() for a in ("-v", f"{v}:{p}")]
    env = [a for k, v in {**CACHE_ENV, **snap.env}.items() for a in ("-e", f"{k}={v}")]
    started = time.monotonic()
    steps = 0.0
    subprocess.run(["docker", "run", "-d", "--name", name, "-w", snap.workdir, *mounts, *caches, *env,
                    "-p", f"127.0.0.1::{snap.port}", snap.image, "sleep", "infinity"], check=True,
                   capture_output=True)
    try:
        subprocess.run(["docker", "exec", name, "mkdir", "-p", snap.workdir], check=True)
        subprocess.run(f"docker cp - {name}:{snap.workdir} < {shlex.quote(str(tar))}", shell=True, check=True,
                       capture_output=True)
        for command in [*snap.setup, *snap.build, *snap.test]:
            t = time.monotonic()
            subprocess.run(["docker", "exec", name, "sh", "-c", command], check=True, capture_output=True)
            steps += time.monotonic() - t
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    return time.monotonic() - started, steps


def drop_caches(client: docker.DockerClient) -> None:
    """Cold start: no dependency cache volumes and no cached setup images of this repository."""
    for tag, _created in setup_images(client, REPO):
        client.images.remove(tag, force=True)
    for volume in cache_volumes(REPO):
        for container in client.containers.list(all=True, filters={"volume": volume}):
            container.remove(force=True)  # left by an interrupted earlier run
        try:
            client.volumes.get(volume).remove(force=True)
        except docker.errors.NotFound:
            pass


async def overhead_and_caches(tmp: Path, extra_deps: list[str]) -> None:
    client = docker.from_env()
    repo, sha = scratch_repo(tmp, extra_deps)
    drop_caches(client)
    cold_wall, _cold_user, ok = await bot_validation(client, repo, sha)
    assert ok, "the example project's validation failed"
    (repo / "app" / "server.py").write_text((repo / "app" / "server.py").read_text() + "\n# one line\n")
    git(repo, "-c", "user.email=b@e.c", "-c", "user.name=b", "commit", "-qam", "one line")
    sha2 = git(repo, "rev-parse", "HEAD")
    warm_wall, warm_user, ok = await bot_validation(client, repo, sha2)
    assert ok
    floor_wall, floor_steps = floor_script(repo, sha2)
    bot_overhead = warm_wall - warm_user
    floor_overhead = floor_wall - floor_steps
    print(f"(b) warm validation {warm_wall:.2f} s, of which user steps {warm_user:.2f} s (deploy + health"
          f" included) → bot overhead {bot_overhead:.2f} s")
    print(f"    docker CLI floor (create, cp, exec setup/build/test, rm; no deploy) {floor_wall:.2f} s, steps"
          f" {floor_steps:.2f} s → floor overhead {floor_overhead:.2f} s; ratio {bot_overhead / floor_overhead:.2f}x")
    print(f"(c) cold (no dependency cache) {cold_wall:.2f} s; warm after a one-line change {warm_wall:.2f} s;"
          f" {cold_wall / warm_wall:.1f}x faster")
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--extra-deps", default="flask sqlalchemy pydantic requests",
                        help="pip requirements added to the example project for (b) and (c); '' for none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        asyncio.run(queued_latency(args.deliveries, Path(a)))
        asyncio.run(overhead_and_caches(Path(b), args.extra_deps.split()))


if __name__ == "__main__":
    main()
