"""The validation pipeline: one commit, one throw-away container, stage after stage.

    analysis  tree-sitter over the changed files (no container needed; runs first, so a syntax error is
              reported within seconds even when the build takes minutes)
    build     `snapshot.setup` then `snapshot.build` commands
    test      `snapshot.test` commands
    deploy    `snapshot.deploy` started in the background, then `health_check` polled on the published port
    web-eval  (when configured) browser checks against the deployed app — see validators/web_eval

A stage with nothing configured is `skipped` ("nothing runs that the file does not ask for"). A failing
stage stops the later container stages (they end `skipped`, saying why). The whole run is bounded by
`snapshot.timeout_minutes`; each command by `snapshot.step_timeout_minutes`.

Cancellation (a newer push): the container is stopped at once, unfinished stages end `cancelled`, and the
`CancelledError` propagates. The container is always removed.

The pipeline knows nothing of GitHub: a `StageListener` hears when stages start and finish (the GitHub
reporter turns that into check runs; the CLI prints it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import docker

from config.schema import RepoConfig
from validators.analysis.run import analyze_files
from validators.health import wait_healthy
from validators.image import build_image
from validators.outcome import StageOutcome, StepRecord, ValidationReport
from validators.setup_cache import LABEL as CACHE_LABEL
from validators.setup_cache import (
    MANIFEST,
    STALE,
    cache_key,
    image_tag,
    setup_images,
    stale_files,
    to_prune,
    tree_files,
)
from validators.snapshot import Resources, Snapshot
from validators.steps import Stage, StageResult, run_stages

log = logging.getLogger(__name__)

#: dependency caches kept per repository in named volumes (volume suffix → path in the container)
CACHE_MOUNTS = {"pip": "/root/.cache/pip", "npm": "/root/.npm"}
CACHE_ENV = {"PIP_CACHE_DIR": "/root/.cache/pip", "npm_config_cache": "/root/.npm"}
LOG_TAIL = 20_000
NO_WEB_EVAL = (
    "No browser checks configured. Add `web_eval.pages` (and `flows`) to `.github/codegen.yml` to have the"
    " deployed app's pages checked in Chromium (see docs/configuration.md)."
)
NOT_DEPLOYED = "The app was not deployed and healthy, so no page was checked."


class StageListener(Protocol):
    async def stage_started(self, stage: str) -> None: ...

    async def stage_finished(self, outcome: StageOutcome) -> None: ...


class NullListener:
    async def stage_started(self, stage: str) -> None:
        return None

    async def stage_finished(self, outcome: StageOutcome) -> None:
        return None


#: optional extra stage run after a healthy deploy: (base_url, config, validation_id) -> outcome
WebEval = Callable[[str, RepoConfig, str], Awaitable[StageOutcome]]


@dataclass
class ValidationRequest:
    validation_id: str
    repo: str
    sha: str
    config: RepoConfig
    source_tar: bytes
    #: changed files (path → content, None when deleted) for the analysis stage
    changed_files: Mapping[str, bytes | None]
    docker: docker.DockerClient
    ca_bundle: Path | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    web_eval: WebEval | None = None
    #: False for code a maintainer approved with `/codegen ok-to-test` (a fork's PR from a non-collaborator):
    #: such code may read nothing it could poison for later runs, so it gets no dependency cache volumes and
    #: never writes a `snapshot.cache_setup` image (it may still start from one that trusted code wrote)
    shared_caches: bool = True


def cache_volumes(repo: str) -> dict[str, str]:
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", repo.lower()).strip("-") or "local"
    return {f"codegen-bot-cache-{slug}-{name}": path for name, path in CACHE_MOUNTS.items()}


def _steps(result: StageResult) -> list[StepRecord]:
    return [
        StepRecord(
            command=s.command, exit_code=s.exit_code, duration=round(s.duration, 3), timed_out=s.timed_out,
            output_tail=s.output[-LOG_TAIL:], oom_killed=getattr(s, "oom_killed", False),
        )
        for s in result.steps
    ]


def _stage_outcome(stage: str, result: StageResult) -> StageOutcome:
    steps = _steps(result)
    failing = next((i for i, s in enumerate(steps) if s.timed_out or s.exit_code not in (0, None)), None)
    lines = [f"| `{s.command}` | {_step_status(s)} | {s.duration:.1f} s |" for s in steps]
    table = "| command | result | time |\n|---|---|---|\n" + "\n".join(lines) if lines else ""
    if result.status == "success":
        return StageOutcome(stage, "success", f"{stage}: {len(steps)} command(s) passed", table,
                            steps=steps, duration=result.duration)
    if result.status == "skipped":
        return StageOutcome(stage, "skipped", f"{stage}: skipped", "An earlier stage failed.", duration=0.0)
    if result.status == "cancelled":
        return StageOutcome(stage, "cancelled", f"{stage}: cancelled", "A newer commit replaced this one.",
                            steps=steps, duration=result.duration)
    bad = steps[failing] if failing is not None else None
    conclusion = "timed_out" if bad is not None and bad.timed_out else "failure"
    title = f"{stage}: `{bad.command}` {_step_status(bad)}" if bad else f"{stage}: failed"
    return StageOutcome(
        stage, conclusion, title, table, text=bad.output_tail if bad else None, steps=steps,
        duration=result.duration, failing_step=failing,
    )


def _step_status(step: StepRecord) -> str:
    if step.timed_out:
        return "timed out"
    if step.oom_killed:
        return f"killed: out of memory (exit {step.exit_code})"
    return "passed" if step.exit_code == 0 else f"exit {step.exit_code}"


def _skipped(stage: str, why: str) -> StageOutcome:
    return StageOutcome(stage, "skipped", f"{stage}: skipped", why)


async def _analysis(req: ValidationRequest) -> StageOutcome:
    started = time.monotonic()
    if not req.config.analysis.enabled:
        return _skipped("analysis", "Code analysis is disabled (`analysis.enabled: false`).")
    result = await asyncio.to_thread(analyze_files, req.changed_files, req.config.analysis.languages)
    conclusion = result.conclusion if result.conclusion in ("success", "failure", "neutral") else "neutral"
    errors = sum(1 for a in result.annotations if a.level == "failure")
    warnings = sum(1 for a in result.annotations if a.level == "warning")
    title = f"analysis: {errors} syntax error(s), {warnings} warning(s)"
    return StageOutcome(
        "analysis", conclusion, title, result.summary_markdown(), annotations=list(result.annotations),
        duration=time.monotonic() - started,
    )


async def _image(req: ValidationRequest) -> str:
    snap = req.config.snapshot
    if snap.dockerfile:
        tag = f"codegen-bot-build/{re.sub(r'[^a-z0-9_.-]+', '-', req.repo.lower())}:{req.sha[:12]}"
        return await build_image(req.docker, req.source_tar, snap.dockerfile, tag)
    return snap.image


async def validate(req: ValidationRequest, listener: StageListener | None = None) -> ValidationReport:
    """Run every stage for one commit; always removes the container."""
    listener = listener or NullListener()
    config = req.config
    snap = config.snapshot
    report = ValidationReport(req.validation_id, req.repo, req.sha, started_at=time.time())
    deadline = time.monotonic() + snap.timeout_minutes * 60
    pending = ["build", "test", "deploy", "web-eval"]
    web_wanted = req.web_eval is not None and config.web_eval.enabled

    async def finish(outcome: StageOutcome) -> None:
        report.outcomes[outcome.stage] = outcome
        if outcome.stage in pending:
            pending.remove(outcome.stage)
        await listener.stage_finished(outcome)

    await listener.stage_started("analysis")
    await finish(await _analysis(req))

    container_stages = {"build": [*snap.setup, *snap.build], "test": list(snap.test)}
    wants_container = any(container_stages.values()) or snap.deploy
    if not wants_container:
        for stage in list(pending):
            if stage == "web-eval":
                await finish(_skipped(stage, NO_WEB_EVAL if not web_wanted else NOT_DEPLOYED))
                continue
            await finish(_skipped(stage, f"Nothing to run: `.github/codegen.yml` sets no {stage} commands."))
        report.finished_at = time.time()
        return report

    snapshot: Snapshot | None = None
    try:
        await listener.stage_started("build")
        image = await _image(req)
        env = {**CACHE_ENV, **{k: str(v) for k, v in snap.env.items()}}
        cached = await _setup_cache(req, image)
        if cached is not None and cached.reuse:
            image = cached.tag
        snapshot = await Snapshot.create(
            req.docker,
            image=image,
            workdir=snap.workdir,
            env=env,
            resources=Resources(
                cpus=float(snap.resources.cpus),
                memory_bytes=snap.resources.memory_bytes,
                pids=int(snap.resources.pids),
            ),
            labels={"codegen-bot.validation": req.validation_id, "codegen-bot.repo": req.repo, **req.extra_labels},
            ca_bundle=req.ca_bundle,
            cache_volumes=cache_volumes(req.repo) if req.shared_caches else {},
            publish_port=snap.port if snap.deploy else None,
        )
        if cached is not None and cached.reuse:
            await _remove_stale_files(snapshot, req.source_tar)
        await snapshot.put_tree(req.source_tar)
        failed = False
        for stage, commands in container_stages.items():
            if stage != "build":
                await listener.stage_started(stage)
            if failed:
                await finish(_skipped(stage, "An earlier stage failed."))
                continue
            if not commands:
                await finish(_skipped(stage, f"Nothing to run: `.github/codegen.yml` sets no {stage} commands."))
                continue
            if stage == "build" and cached is not None:
                outcome = await _cached_build(snapshot, cached, req, deadline)
            else:
                (result,) = await run_stages(
                    snapshot, [Stage(stage, commands)], step_timeout=snap.step_timeout_minutes * 60,
                    total_deadline=deadline, env=None,
                )
                outcome = _stage_outcome(stage, result)
            failed = not outcome.passed
            await finish(outcome)
        await listener.stage_started("deploy")
        if failed:
            await finish(_skipped("deploy", "An earlier stage failed."))
        elif not snap.deploy:
            await finish(_skipped("deploy", "Nothing to run: `.github/codegen.yml` sets no `deploy` command."))
        else:
            outcome = await _deploy(req, snapshot, deadline)
            failed = not outcome.passed
            await finish(outcome)
        await listener.stage_started("web-eval")
        if not web_wanted or req.web_eval is None:
            await finish(_skipped("web-eval", NO_WEB_EVAL))
        elif failed or not snap.deploy or snapshot.host_port is None:
            await finish(_skipped("web-eval", NOT_DEPLOYED))
        else:
            base_url = f"http://127.0.0.1:{snapshot.host_port}"
            await finish(await req.web_eval(base_url, config, req.validation_id))
    except asyncio.CancelledError:
        if snapshot is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(snapshot.stop())
        for stage in list(pending):
            outcome = StageOutcome(stage, "cancelled", f"{stage}: cancelled", "A newer commit replaced this one.")
            report.outcomes[stage] = outcome
            with contextlib.suppress(Exception):
                await asyncio.shield(listener.stage_finished(outcome))
        raise
    except Exception as exc:
        log.exception("validation %s failed to run", req.validation_id)
        for stage in list(pending):
            await finish(StageOutcome(stage, "failure", f"{stage}: could not run",
                                      f"The snapshot could not be prepared: `{type(exc).__name__}: {exc}`"))
    finally:
        if snapshot is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(snapshot.remove())
        report.finished_at = time.time()
    return report


@dataclass(frozen=True)
class SetupCache:
    tag: str
    reuse: bool


async def _setup_cache(req: ValidationRequest, image: str) -> SetupCache | None:
    """The setup cache for this validation, when `snapshot.cache_setup` asks for one (image-based only)."""
    snap = req.config.snapshot
    if not snap.cache_setup or not snap.setup or snap.dockerfile:
        return None
    key = await asyncio.to_thread(cache_key, image, snap.setup, dict(snap.env), snap.workdir, req.source_tar)
    tag = image_tag(req.repo, key)

    def exists() -> bool:
        try:
            req.docker.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    reuse = await asyncio.to_thread(exists)
    if not reuse and not req.shared_caches:
        return None  # untrusted code runs `setup` itself and keeps nothing
    return SetupCache(tag, reuse)


async def _remove_stale_files(snapshot: Snapshot, source_tar: bytes) -> None:
    old = await snapshot.run(f"cat {MANIFEST}", timeout=60)
    stale = stale_files(old.output if old.ok else "", await asyncio.to_thread(tree_files, source_tar))
    if stale:
        await snapshot.put_file(STALE, "\n".join(stale) + "\n")
        await snapshot.run(f"xargs -d '\\n' rm -f -- < {STALE}", timeout=120)


async def _cached_build(snapshot: Snapshot, cached: SetupCache, req: ValidationRequest,
                        deadline: float) -> StageOutcome:
    """The `build` stage with `snapshot.cache_setup`: warm, only `build` runs (on the cached image); cold,
    `setup` runs and its result is kept as the image `cached.tag` before `build` runs."""
    snap = req.config.snapshot
    step_timeout = snap.step_timeout_minutes * 60

    async def run(commands: list[str]) -> StageResult:
        (result,) = await run_stages(snapshot, [Stage("build", commands)], step_timeout=step_timeout,
                                     total_deadline=deadline)
        return result

    if cached.reuse:
        if not snap.build:
            return StageOutcome("build", "success", "build: setup reused from the cache",
                                f"`snapshot.setup` was skipped: `{cached.tag}` holds its result.")
        outcome = _stage_outcome("build", await run(list(snap.build)))
        outcome.summary = f"`snapshot.setup` reused from `{cached.tag}`.\n\n{outcome.summary}"
        return outcome
    setup = await run(list(snap.setup))
    if setup.status == "success":
        await _commit(snapshot, cached.tag, req)
    if setup.status != "success" or not snap.build:
        return _stage_outcome("build", setup)
    build = await run(list(snap.build))
    return _stage_outcome("build", StageResult("build", build.status, [*setup.steps, *build.steps],
                                               setup.duration + build.duration))


async def _commit(snapshot: Snapshot, tag: str, req: ValidationRequest) -> None:
    try:
        await snapshot.put_file(MANIFEST, "\n".join(await asyncio.to_thread(tree_files, req.source_tar)) + "\n")
        await snapshot.commit(tag, {CACHE_LABEL: "1"})
        await asyncio.to_thread(_prune_setup_images, req.docker, req.repo)
    except Exception:  # a cache that could not be written costs the next run time, not correctness
        log.warning("could not keep the setup cache %s", tag, exc_info=True)


def _prune_setup_images(client: docker.DockerClient, repo: str) -> None:
    """Keep the newest setup images of this repository; an image still in use is left for next time."""
    for old in to_prune(setup_images(client, repo)):
        try:
            client.images.remove(old)
        except docker.errors.APIError:
            log.info("setup image %s is in use; kept for now", old)


async def _deploy(req: ValidationRequest, snapshot: Snapshot, deadline: float) -> StageOutcome:
    snap = req.config.snapshot
    check = req.config.health_check
    started = time.monotonic()
    assert snap.deploy is not None
    await snapshot.start_background(snap.deploy)
    if snapshot.host_port is None:
        return StageOutcome("deploy", "failure", "deploy: no published port", "The app's port was not published.")
    url = f"http://127.0.0.1:{snapshot.host_port}{check.path}"
    timeout = max(1.0, min(float(check.timeout_seconds), deadline - time.monotonic()))
    health = await wait_healthy(url, timeout=timeout)
    logs = await snapshot.background_logs(tail=200)
    duration = time.monotonic() - started
    detail = f"`{snap.deploy}` started; `GET {check.path}` on port {snap.port}"
    if health.ok:
        return StageOutcome(
            "deploy", "success", f"deploy: healthy in {health.elapsed:.1f} s",
            f"{detail} answered {health.status} after {health.attempts} attempt(s).", text=logs or None,
            duration=duration, details={"health": {"status": health.status, "elapsed": health.elapsed}},
        )
    why = f"answered {health.status}" if health.status else (health.error or "no answer")
    return StageOutcome(
        "deploy", "failure", f"deploy: not healthy within {timeout:.0f} s",
        f"{detail} {why} (last of {health.attempts} attempt(s)). The app's output is below.",
        text=logs or "(the deploy command printed nothing)", duration=duration,
        steps=[StepRecord(snap.deploy, None, round(duration, 3), False, logs[-LOG_TAIL:])], failing_step=0,
        details={"health": {"status": health.status, "error": health.error}},
    )
