"""The throw-away container the `build`, `test` and `deploy` stages run in (started as part of `build`).

Its image is `snapshot.image`, or the image built from `snapshot.dockerfile`, or — with
`snapshot.cache_setup` and a warm cache — the setup image (see validators/stages/cached_build.py). The
image, or every image the Dockerfile names, must be on the operator's allow-list first
(validators/image_policy.py: `ImageRefused`). Trusted code gets the repository's dependency cache volumes
(pip, npm), named by the repository's key (validators/repo_key.py); the commit's tree is copied in last.
The container and a Dockerfile's build run on the validation's networks (validators/sandbox_network.py).
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import tarfile
import time

from validators.image import BuildLimits, build_image, built_tag, prune_built_images
from validators.image_policy import check_dockerfile, check_image
from validators.repo_key import repo_key
from validators.request import ValidationRequest
from validators.sandbox_network import SandboxNetwork
from validators.snapshot import Resources, Snapshot
from validators.stages.cached_build import SetupCache, find_setup_cache, remove_stale_files

#: dependency caches kept per repository in named volumes (volume suffix → path in the container)
CACHE_MOUNTS = {"pip": "/root/.cache/pip", "npm": "/root/.npm"}
CACHE_ENV = {"PIP_CACHE_DIR": "/root/.cache/pip", "npm_config_cache": "/root/.npm"}


def cache_volumes(repo: str, repo_id: int | None = None) -> dict[str, str]:
    return {f"codegen-bot-cache-{repo_key(repo, repo_id)}-{name}": path for name, path in CACHE_MOUNTS.items()}


def container_needed(req: ValidationRequest) -> bool:
    """False when the config sets no setup, build, test or deploy command (then no container is started)."""
    snap = req.config.snapshot
    return bool(snap.setup or snap.build or snap.test or snap.deploy)


def labels_of(req: ValidationRequest) -> dict[str, str]:
    return {"codegen-bot.validation": req.validation_id, "codegen-bot.repo": req.repo, **req.extra_labels}


def check_allowed(req: ValidationRequest) -> None:
    """`ImageRefused` unless `snapshot.image`, or each image of `snapshot.dockerfile`, is allowed."""
    snap = req.config.snapshot
    if snap.dockerfile:
        check_dockerfile(dockerfile_text(req.source_tar, snap.dockerfile), req.allowed_images, snap.dockerfile)
    else:
        check_image(snap.image, req.allowed_images)


def dockerfile_text(source_tar: bytes, path: str) -> str:
    """The Dockerfile from the commit's tree ('' when it is not there: the build then says so)."""
    wanted = posixpath.normpath(path.lstrip("/"))
    with tarfile.open(fileobj=io.BytesIO(source_tar)) as tar:
        for member in tar.getmembers():
            name = member.name[2:] if member.name.startswith("./") else member.name
            if member.isfile() and posixpath.normpath(name) == wanted:
                data = tar.extractfile(member)
                return data.read(1024 * 1024).decode("utf-8", errors="replace") if data else ""
    return ""


async def choose_image(req: ValidationRequest, network: SandboxNetwork,
                       deadline: float | None = None) -> tuple[str, SetupCache | None]:
    """The image to start from (building `snapshot.dockerfile` when set, within `deadline`, a
    `time.monotonic()` value), and the setup cache, if any. `check_allowed` comes first (the pipeline's)."""
    image = await _base_image(req, network, deadline)
    cached = await find_setup_cache(req, image)
    if cached is not None and cached.reuse:
        image = cached.tag
    return image, cached


async def _base_image(req: ValidationRequest, network: SandboxNetwork, deadline: float | None) -> str:
    snap = req.config.snapshot
    if not snap.dockerfile:
        return snap.image
    key = repo_key(req.repo, req.repo_id)
    timeout = snap.timeout_minutes * 60.0
    if deadline is not None:
        timeout = max(1.0, min(timeout, deadline - time.monotonic()))
    limits = BuildLimits(cpus=float(snap.resources.cpus), memory_bytes=snap.resources.memory_bytes, timeout=timeout)
    tag = await build_image(req.docker, req.source_tar, snap.dockerfile, built_tag(key, req.sha),
                            network=network.build_network, limits=limits, labels={"codegen-bot.repo": req.repo})
    await asyncio.to_thread(prune_built_images, req.docker, key, tag)
    return tag


async def create_container(req: ValidationRequest, image: str, network: SandboxNetwork) -> Snapshot:
    snap = req.config.snapshot
    return await Snapshot.create(
        req.docker,
        image=image,
        workdir=snap.workdir,
        env={**CACHE_ENV, **{k: str(v) for k, v in snap.env.items()}},
        resources=Resources(
            cpus=float(snap.resources.cpus),
            memory_bytes=snap.resources.memory_bytes,
            pids=int(snap.resources.pids),
        ),
        labels=labels_of(req),
        ca_bundle=req.ca_bundle,
        cache_volumes=cache_volumes(req.repo, req.repo_id) if req.shared_caches else {},
        port=snap.port if snap.deploy else None,
        network=network,
    )


async def load_source(snapshot: Snapshot, cached: SetupCache | None, source_tar: bytes) -> None:
    """Copy the commit's tree in (after removing a cached setup image's stale files)."""
    if cached is not None and cached.reuse:
        await remove_stale_files(snapshot, source_tar)
    await snapshot.put_tree(source_tar)
