"""Setup and build images nobody used within their retention are removed (the retention sweep's Docker part).

- Only the bot's own images are looked at: those carrying its label (`validators/setup_cache.LABEL`,
  `validators/labels.BUILD_LABEL`) AND tagged under its prefix (`codegen-bot-setup/`, `codegen-bot-build/`);
  only those tags are removed, so an image an operator tagged otherwise keeps that tag (Docker deletes an
  image with its last tag).
- An image is used by every container made from it (running or stopped, a snapshot's or anyone's): such an
  image is never removed, and Docker would refuse to anyway.
- "Last used" is the later of the image's creation and its last tag (validators/retention.py); the per-
  repository bound (`KEEP_PER_REPO`, `KEEP_BUILT_PER_REPO`) still applies on every write, so this sweep only
  takes away what repositories that went quiet left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import docker
import docker.errors

from validators.labels import BUILD_LABEL
from validators.retention import Usage, expired, image_last_used
from validators.setup_cache import LABEL as SETUP_LABEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageKind:
    """Which images one sweep looks at: a label the bot sets on them and the prefix of their tags."""

    label: str
    tag_prefix: str


SETUP_IMAGES = ImageKind(SETUP_LABEL, "codegen-bot-setup/")
BUILD_IMAGES = ImageKind(BUILD_LABEL, "codegen-bot-build/")


def images_in_use(client: docker.DockerClient) -> set[str]:
    """Blocking: the ids of the images every container on the engine (running or not) was made from."""
    return {str(row.get("ImageID")) for row in client.api.containers(all=True) if row.get("ImageID")}


def remove_unused_images(client: docker.DockerClient, kind: ImageKind, before: float) -> int:
    """Blocking: remove the bot's tags of `kind`'s images last used before `before` and used by no
    container; returns how many tags were removed (an image goes with its last one)."""
    in_use = images_in_use(client)
    tags: dict[str, list[str]] = {}
    usages: list[Usage] = []
    for image in client.images.list(filters={"label": f"{kind.label}=1"}):
        ours = [tag for tag in image.tags if tag.startswith(kind.tag_prefix)]
        if ours:
            tags[image.id] = ours
            usages.append(Usage(image.id, image_last_used(image.attrs)))
    removed = 0
    for image_id in expired(usages, before, keep=in_use):
        for tag in tags[image_id]:
            try:
                client.images.remove(tag)
                removed += 1
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:  # 409: a container was made from it since the listing
                log.info("kept image %s: %s", tag, exc.explanation or exc)
                break
    return removed
