"""Build the snapshot image from a Dockerfile in the repository (`snapshot.dockerfile`).

The build context is the commit's tree (the same tar the snapshot receives). Nothing is pulled by
force (`pull=False`): base images come from the engine's cache or its normal resolution. A failed build
raises `ImageBuildError` with the last lines of the build log.
"""

from __future__ import annotations

import asyncio
import io

import docker
import docker.errors


class ImageBuildError(RuntimeError):
    pass


async def build_image(client: docker.DockerClient, source_tar: bytes, dockerfile: str, tag: str) -> str:
    def build() -> str:
        try:
            client.images.build(
                fileobj=io.BytesIO(source_tar), custom_context=True, dockerfile=dockerfile, tag=tag,
                pull=False, rm=True, forcerm=True, labels={"codegen-bot.image": "1"},
            )
        except docker.errors.BuildError as exc:
            lines = [str(item.get("stream") or item.get("error") or "").rstrip() for item in exc.build_log]
            tail = "\n".join(line for line in lines if line)[-4000:]
            raise ImageBuildError(f"`docker build -f {dockerfile}` failed: {exc.msg}\n{tail}") from None
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"`docker build -f {dockerfile}` failed: {exc.explanation or exc}") from None
        return tag

    return await asyncio.to_thread(build)
