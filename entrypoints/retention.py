"""The retention sweep, composed: one task per kind of thing the bot keeps, each with its retention.

| kind           | retention                | where it is removed                                  |
|----------------|--------------------------|------------------------------------------------------|
| `deliveries`   | `RETENTION_DAYS`         | bot/store/retention.py (handled or failed ones)      |
| `jobs`         | `RETENTION_DAYS`         | bot/store/retention.py (done, failed, cancelled)     |
| `validations`  | `RETENTION_DAYS`         | bot/store/retention.py (done, cancelled; the report) |
| `artifacts`    | `ARTIFACT_RETENTION_DAYS`| validators/web_eval/artifacts.py                     |
| `setup_images` | `RETENTION_DAYS`         | validators/image_retention.py                        |
| `build_images` | `RETENTION_DAYS`         | validators/image_retention.py                        |
| `git_caches`   | `RETENTION_DAYS`         | validators/git_source.py (`GitCache.remove_unused`)  |

The git cache is the validation service's own instance (its per-repository locks keep a fetch and the sweep
apart). Without a Docker engine the image kinds remove nothing (said once in the log).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import docker
import docker.errors
import requests

from bot.dispatch.jobs import JobQueue
from bot.runtime.retention import RetentionSweep
from bot.store.db import Database
from bot.store.retention import StoreRetention
from config.settings import Settings
from validators.engine_pool import EnginePool
from validators.git_source import GitCache
from validators.image_retention import BUILD_IMAGES, SETUP_IMAGES, ImageKind, remove_unused_images
from validators.retention import cutoff
from validators.web_eval.artifacts import ArtifactStore

log = logging.getLogger(__name__)


def retention_sweep(settings: Settings, db: Database, jobs: JobQueue, git_cache: GitCache,
                    artifacts: ArtifactStore | None,
                    engine: DockerImages | EveryEngine | None = None) -> RetentionSweep:
    """The sweep with every kind's task (`engine`: the Docker engines' images; default: `docker.from_env`)."""
    sweep = RetentionSweep(jobs, settings.retention_sweep_minutes * 60)
    store = StoreRetention(db)
    days, artifact_days = settings.retention_days, settings.artifact_retention_days
    images = engine if engine is not None else DockerImages()
    sweep.add("deliveries", lambda now: store.remove_deliveries(cutoff(now, days)))
    sweep.add("jobs", lambda now: store.remove_jobs(cutoff(now, days)))
    sweep.add("validations", lambda now: store.remove_validations(cutoff(now, days)))
    if artifacts is not None:
        sweep.add("artifacts", lambda now: remove_artifacts(store, artifacts, cutoff(now, artifact_days)))
    sweep.add("setup_images", lambda now: images.remove_unused(SETUP_IMAGES, cutoff(now, days)))
    sweep.add("build_images", lambda now: images.remove_unused(BUILD_IMAGES, cutoff(now, days)))
    sweep.add("git_caches", lambda now: git_cache.remove_unused(cutoff(now, days)))
    sweep.on_removed = jobs.metrics.count_removed
    return sweep


async def remove_artifacts(store: StoreRetention, artifacts: ArtifactStore, before: float) -> int:
    """Artifacts written before `before`, except those of validations still held, queued or running."""
    keep = await store.live_validation_ids()
    return await asyncio.to_thread(artifacts.remove_older_than, before, keep)


class EveryEngine:
    """The images of every engine of `DOCKER_HOSTS` (each engine keeps its own setup and build images)."""

    def __init__(self, pool: EnginePool) -> None:
        self.engines = [DockerImages(engine.client) for engine in pool.engines]

    async def remove_unused(self, kind: ImageKind, before: float) -> int:
        return sum([await images.remove_unused(kind, before) for images in self.engines])


class DockerImages:
    """The bot's setup and build images on the Docker engine, connected to on first use."""

    def __init__(self, connect: Callable[[], docker.DockerClient] = docker.from_env) -> None:
        self.connect = connect
        self._client: docker.DockerClient | None = None
        self._said_unreachable = False

    async def remove_unused(self, kind: ImageKind, before: float) -> int:
        client = await self._reachable()
        if client is None:
            return 0
        return await asyncio.to_thread(remove_unused_images, client, kind, before)

    async def _reachable(self) -> docker.DockerClient | None:
        try:
            if self._client is None:
                self._client = await asyncio.to_thread(self.connect)
            await asyncio.to_thread(self._client.ping)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            self._client = None
            if not self._said_unreachable:
                log.warning("retention sweep: no Docker engine reachable, images are not swept: %s", exc)
                self._said_unreachable = True
            return None
        return self._client
