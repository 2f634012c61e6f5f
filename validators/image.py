"""Pull the snapshot's image, or build it from a Dockerfile in the repository (`snapshot.dockerfile`).

Decisions:
- No credentials of the operator ever reach a pull or a build. `docker.from_env()` loads the operator's
  `~/.docker/config.json`, and docker-py would send every registry login in it with each build
  (`X-Registry-Config`) and the matching one with each pull; a repository could then pull the operator's
  private images by naming them. So pulls pass an empty `auth_config` (Docker then pulls anonymously), and
  builds are one plain `POST /build` through the client's HTTP session with no registry header at all
  (`_post_build`); the allow-list (validators/image_policy.py) is checked before either.
- A build is the classic builder's (the API without `version=2`): its RUN steps are containers on the network
  given (`network`: the validation's egress network, or its internal one for `snapshot.network: none`), so
  the snapshot's firewall applies to them; they get the snapshot's CPU quota and memory limit (swap
  included); Docker's build API has no pids limit. Base images are not pulled by force (`pull=0`).
- A build is bounded by `timeout` (the snapshot's `timeout_minutes`): at the deadline the build's containers
  (those on its network) are killed and the request is closed, which makes dockerd cancel the build.
- Built images are tagged `codegen-bot-build/<repo key>:<sha>` and labelled; the newest `KEEP_BUILT_PER_REPO`
  per repository are kept (`prune_built_images`).
- A failed build raises `ImageBuildError` with the last lines of the build log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from validators.labels import BUILD_LABEL
from validators.setup_cache import to_prune

#: images built from a Dockerfile kept per repository (the newest)
KEEP_BUILT_PER_REPO = 3
LOG_TAIL = 4000


class ImageBuildError(RuntimeError):
    pass


class ImagePullError(RuntimeError):
    pass


@dataclass(frozen=True)
class BuildLimits:
    cpus: float
    memory_bytes: int
    timeout: float


def pull_image(client: docker.DockerClient, image: str) -> None:
    """Blocking: make sure `image` is on the engine, pulling it anonymously when it is not."""
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image, auth_config={})  # an empty login: never the operator's (see above)
    except docker.errors.APIError as exc:
        raise ImagePullError(
            f"image `{image}` is not on this Docker engine and could not be pulled: {exc.explanation or exc}"
        ) from None


def built_tag(key: str, sha: str) -> str:
    return f"codegen-bot-build/{key}:{sha[:12]}"


async def build_image(client: docker.DockerClient, source_tar: bytes, dockerfile: str, tag: str, *,
                      network: str, limits: BuildLimits, labels: Mapping[str, str] | None = None) -> str:
    """Build `dockerfile` of the tree `source_tar` as `tag` (see the module's decisions)."""
    stop = threading.Event()
    thread = asyncio.ensure_future(asyncio.to_thread(
        _build, client, source_tar, dockerfile, tag, network, limits, {BUILD_LABEL: "1", **dict(labels or {})}, stop,
    ))
    try:
        return await asyncio.wait_for(asyncio.shield(thread), timeout=limits.timeout)
    except TimeoutError:
        await _stop_build(client, network, stop, thread)
        raise ImageBuildError(f"`docker build -f {dockerfile}` did not finish within {limits.timeout:.0f} s"
                              " (snapshot.timeout_minutes)") from None
    except asyncio.CancelledError:
        await asyncio.shield(_stop_build(client, network, stop, thread))
        raise


async def _stop_build(client: docker.DockerClient, network: str, stop: threading.Event,
                      thread: asyncio.Future[str]) -> None:
    """Kill the build's RUN containers (those on its network) until the build thread has given up."""
    stop.set()
    for _ in range(60):
        await asyncio.to_thread(_kill_on_network, client, network)
        done, _pending = await asyncio.wait({thread}, timeout=1)
        if done:
            with contextlib.suppress(BaseException):
                thread.result()
            return


def _kill_on_network(client: docker.DockerClient, network: str) -> None:
    for container in client.containers.list(all=True, filters={"network": network}):
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def _build(client: docker.DockerClient, source_tar: bytes, dockerfile: str, tag: str, network: str,
           limits: BuildLimits, labels: dict[str, str], stop: threading.Event) -> str:
    deadline = time.monotonic() + limits.timeout
    period = 100_000
    params: dict[str, Any] = {
        "t": tag, "dockerfile": dockerfile, "rm": "1", "forcerm": "1", "pull": "0", "networkmode": network,
        "labels": json.dumps(labels), "memory": str(limits.memory_bytes), "memswap": str(limits.memory_bytes),
        "cpuperiod": str(period), "cpuquota": str(max(1000, int(limits.cpus * period))),
    }
    lines: list[str] = []
    try:
        with _post_build(client, source_tar, params, limits.timeout) as response:
            if response.status_code >= 400:
                raise ImageBuildError(f"`docker build -f {dockerfile}` failed: {response.text.strip()[-LOG_TAIL:]}")
            for raw in response.iter_lines():
                if stop.is_set() or time.monotonic() > deadline:
                    raise ImageBuildError(f"`docker build -f {dockerfile}` was stopped at its time limit")
                error = _read_line(raw, lines)
                if error is not None:
                    tail = "\n".join(line for line in lines if line)[-LOG_TAIL:]
                    raise ImageBuildError(f"`docker build -f {dockerfile}` failed: {error}\n{tail}")
    except requests.RequestException as exc:
        raise ImageBuildError(f"`docker build -f {dockerfile}` failed: {type(exc).__name__}: {exc}") from None
    return tag


def _post_build(client: docker.DockerClient, source_tar: bytes, params: dict[str, Any],
                timeout: float) -> requests.Response:
    """`POST /build` through the client's session: its adapters (unix socket, TLS), none of its logins."""
    api = client.api
    return api.post(f"{api.base_url}/v{api.api_version}/build", params=params, data=source_tar,
                    headers={"Content-Type": "application/x-tar"}, stream=True, timeout=(30, max(1.0, timeout)))


def _read_line(raw: bytes, lines: list[str]) -> str | None:
    """One JSON line of the build's progress: its text is appended to `lines`; the error, if it is one."""
    if not raw.strip():
        return None
    try:
        item = json.loads(raw)
    except ValueError:
        lines.append(raw.decode("utf-8", errors="replace"))
        return None
    if item.get("error"):
        return str(item["error"]).strip()
    text = str(item.get("stream") or item.get("status") or "").rstrip()
    if text:
        lines.append(text)
        del lines[:-200]
    return None


def built_images(client: docker.DockerClient, key: str) -> list[tuple[str, str]]:
    """(tag, created) of the images built for the repository `key`."""
    prefix = built_tag(key, "")
    return [(tag, image.attrs.get("Created", "")) for image in client.images.list(filters={"label": f"{BUILD_LABEL}=1"})
            for tag in image.tags if tag.startswith(prefix)]


def prune_built_images(client: docker.DockerClient, key: str, current: str, keep: int | None = None) -> list[str]:
    """Blocking: remove all but the newest built images of one repository, never `current` (the tag just
    built: an unchanged Dockerfile gives the same cached image, so creation times tie); an image in use stays."""
    keep = KEEP_BUILT_PER_REPO if keep is None else keep
    others = [item for item in built_images(client, key) if item[0] != current]
    removed = []
    for old in to_prune(others, max(0, keep - 1)):
        try:
            client.images.remove(old)
            removed.append(old)
        except docker.errors.APIError:
            pass
    return removed
