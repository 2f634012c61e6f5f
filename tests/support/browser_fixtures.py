"""pytest fixtures (registered in tests/conftest.py): the real, containerised Chromium of web evaluation.

browser_image  the image web evaluation runs Chromium in (CODEGEN_BOT_BROWSER_IMAGE, default
               codegen-bot-browser:bookworm). Missing: `scripts/ensure-docker.sh` is run once to build it;
               still missing: skipped on a developer machine, a FAILURE when CI=true.
chromium       Chromium's path inside that image (what `evaluate(..., chromium_path)` takes); it needs
               `browser_image`, so a test that asks for `chromium` has the real browser or fails in CI.

`png_pixels(data)` decodes a screenshot (8-bit RGB/RGBA, not interlaced: what Chromium writes) into
(width, height, channels, rows) so a test can look at what a screenshot shows.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import docker
import pytest

from tests.support.required import unavailable
from validators.web_eval.container import BROWSER_IMAGE

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM_IN_IMAGE = "/usr/bin/chromium"


def _has_image(client: docker.DockerClient) -> bool:
    try:
        client.images.get(BROWSER_IMAGE)
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.fixture(scope="session")
def browser_image(docker_client: docker.DockerClient) -> str:
    if not _has_image(docker_client):
        run = subprocess.run([str(ROOT / "scripts" / "ensure-docker.sh")], capture_output=True, text=True)
        if not _has_image(docker_client):
            reason = f"no browser image {BROWSER_IMAGE}: ensure-docker.sh exited {run.returncode}: {run.stderr[-2000:]}"
            unavailable(reason, in_ci=f"the browser image is required in CI: {reason}")
    return BROWSER_IMAGE


@pytest.fixture(scope="session")
def chromium(browser_image: str) -> str:
    return CHROMIUM_IN_IMAGE


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, unfiltered rows) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color, _c, _f, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    raw, stride = zlib.decompress(bytes(idat)), width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            add = (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
            line[x] = (line[x] + add) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def has_color(data: bytes, rgb: tuple[int, int, int], tolerance: int = 24) -> bool:
    """Whether any pixel of the PNG is within `tolerance` of `rgb`."""
    width, _height, channels, rows = png_pixels(data)
    for row in rows:
        for x in range(0, width * channels, channels):
            if all(abs(row[x + i] - rgb[i]) <= tolerance for i in range(3)):
                return True
    return False
