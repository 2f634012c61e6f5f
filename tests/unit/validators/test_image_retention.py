"""The retention sweep on a real Docker engine: an old labelled build image goes; one a container uses, a recent
one, one used again since (tagged again, as a warm setup does) and an operator's own tag of an old one stay.

Each test's images carry a tag prefix of their own, and the sweep is told only that prefix: it never looks at
the images of other tests (or of the bot) sharing the engine."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from validators.image_retention import ImageKind, images_in_use, remove_unused_images
from validators.labels import BUILD_LABEL, LABEL
from validators.setup_cache import mark_used


@pytest.fixture
def prefix(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"codegen-bot-build/retention-test-{uuid.uuid4().hex[:10]}"
    yield name
    for image in docker_client.images.list(filters={"label": f"{BUILD_LABEL}=1"}):
        for tag in image.tags:
            if tag.startswith(name) or tag.startswith(name.replace("codegen-bot-build/", "operator/")):
                try:
                    docker_client.images.remove(tag, force=True)
                except docker.errors.APIError:
                    pass


def build(client: docker.DockerClient, base_image: str, tag: str) -> str:
    """A tiny image of its own (a unique label gives it its own id), labelled as the bot labels built images."""
    dockerfile = f"FROM {base_image}\n".encode()
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True,
                                   labels={BUILD_LABEL: "1", "test.nonce": uuid.uuid4().hex})
    return str(image.id)


def exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def test_old_unused_images_go_and_used_recent_or_retagged_ones_stay(
        docker_client: docker.DockerClient, base_image: str, prefix: str) -> None:
    old, used, touched = f"{prefix}-old:a", f"{prefix}-used:a", f"{prefix}-touched:a"
    operator = f"{prefix.replace('codegen-bot-build/', 'operator/')}:keep"
    build(docker_client, base_image, old)
    docker_client.images.get(old).tag(*operator.split(":"))  # the same image, also tagged by someone else
    used_id = build(docker_client, base_image, used)
    build(docker_client, base_image, touched)
    container = docker_client.containers.run(used, "sleep 120", detach=True, labels={LABEL: "1"})
    try:
        time.sleep(1.1)
        cutoff = time.time()
        time.sleep(1.1)
        recent = f"{prefix}-recent:a"
        build(docker_client, base_image, recent)
        mark_used(docker_client.images.get(touched), touched)  # a warm start from it, after the cutoff

        assert used_id in images_in_use(docker_client)
        removed = remove_unused_images(docker_client, ImageKind(BUILD_LABEL, prefix), cutoff)

        assert removed == 1 and not exists(docker_client, old)
        assert exists(docker_client, operator)  # not the bot's tag: the image stays under it
        assert exists(docker_client, used) and exists(docker_client, recent) and exists(docker_client, touched)
    finally:
        container.remove(force=True)
    assert remove_unused_images(docker_client, ImageKind(BUILD_LABEL, prefix), cutoff) == 1  # no container now
    assert not exists(docker_client, used) and exists(docker_client, touched)
