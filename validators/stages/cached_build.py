"""The `build` stage with `snapshot.cache_setup: true` (the key, tags and pruning rules are in
validators/setup_cache.py).

Warm (an image for this key exists): the container starts from it, the old tree's files that the new commit
no longer has are deleted, and only `build` runs (with `snapshot.network: setup-only`, already without a
way out: `setup` is over). Cold: `setup` runs, its result is committed as the setup
image, then `build` runs. Code that may not share caches (`shared_caches=False`) may start warm but never
writes an image. `setup` runs without the request's secrets and the container's own environment never has
them (they are given to each `build` command's exec), so a setup image holds none.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import docker
import docker.errors

from validators.outcome import StageOutcome
from validators.request import ValidationRequest
from validators.setup_cache import LABEL as CACHE_LABEL
from validators.setup_cache import (
    MANIFEST,
    STALE,
    cache_key,
    image_tag,
    mark_used,
    setup_images,
    stale_files,
    to_prune,
    tree_files,
)
from validators.snapshot import Snapshot
from validators.stages.commands import run_commands, stage_outcome
from validators.steps import StageResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetupCache:
    tag: str
    reuse: bool


async def find_setup_cache(req: ValidationRequest, image: str) -> SetupCache | None:
    """The setup cache for this validation, when `snapshot.cache_setup` asks for one (image-based only)."""
    snap = req.config.snapshot
    if not snap.cache_setup or not snap.setup or snap.dockerfile:
        return None
    key = await asyncio.to_thread(cache_key, image, snap.setup, dict(snap.env), snap.workdir, req.source_tar)
    tag = image_tag(req.repo, key, req.repo_id)

    def exists() -> bool:
        try:
            cached = req.docker.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        mark_used(cached, tag)  # the retention sweep keeps what was used within RETENTION_DAYS
        return True

    reuse = await asyncio.to_thread(exists)
    if not reuse and not req.shared_caches:
        return None  # untrusted code runs `setup` itself and keeps nothing
    return SetupCache(tag, reuse)


async def remove_stale_files(snapshot: Snapshot, source_tar: bytes) -> None:
    """In a container started from a setup image: delete the old tree's files the new commit does not have."""
    old = await snapshot.run(f"cat {MANIFEST}", timeout=60)
    stale = stale_files(old.output if old.ok else "", await asyncio.to_thread(tree_files, source_tar))
    if stale:
        await snapshot.put_file(STALE, "\n".join(stale) + "\n")
        await snapshot.run(f"xargs -d '\\n' rm -f -- < {STALE}", timeout=120)


async def cached_build(snapshot: Snapshot, cached: SetupCache, req: ValidationRequest,
                       deadline: float) -> StageOutcome:
    """The `build` stage with `snapshot.cache_setup`: warm, only `build` runs (on the cached image); cold,
    `setup` runs and its result is kept as the image `cached.tag` before `build` runs."""
    snap = req.config.snapshot
    step_timeout = snap.step_timeout_minutes * 60

    async def run(commands: list[str], secrets: bool) -> StageResult:
        return await run_commands(snapshot, "build", commands, step_timeout=step_timeout, deadline=deadline,
                                  env=req.secrets if secrets else None)

    if cached.reuse:
        await snapshot.end_setup()
        if not snap.build:
            return StageOutcome("build", "success", "build: setup reused from the cache",
                                f"`snapshot.setup` was skipped: `{cached.tag}` holds its result.")
        outcome = stage_outcome("build", await run(list(snap.build), secrets=True))
        outcome.summary = f"`snapshot.setup` reused from `{cached.tag}`.\n\n{outcome.summary}"
        return outcome
    setup = await run(list(snap.setup), secrets=False)
    await snapshot.end_setup()
    if setup.status == "success":
        await _commit(snapshot, cached.tag, req)
    if setup.status != "success" or not snap.build:
        return stage_outcome("build", setup)
    build = await run(list(snap.build), secrets=True)
    return stage_outcome("build", StageResult("build", build.status, [*setup.steps, *build.steps],
                                              setup.duration + build.duration))


async def _commit(snapshot: Snapshot, tag: str, req: ValidationRequest) -> None:
    try:
        await snapshot.put_file(MANIFEST, "\n".join(await asyncio.to_thread(tree_files, req.source_tar)) + "\n")
        await snapshot.commit(tag, {CACHE_LABEL: "1"})
        await asyncio.to_thread(_prune_setup_images, req.docker, req.repo, req.repo_id)
    except Exception:  # a cache that could not be written costs the next run time, not correctness
        log.warning("could not keep the setup cache %s", tag, exc_info=True)


def _prune_setup_images(client: docker.DockerClient, repo: str, repo_id: int | None) -> None:
    """Keep the newest setup images of this repository; an image still in use is left for next time."""
    for old in to_prune(setup_images(client, repo, repo_id)):
        try:
            client.images.remove(old)
        except docker.errors.APIError:
            log.info("setup image %s is in use; kept for now", old)
