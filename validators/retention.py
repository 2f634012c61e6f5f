"""What on disk or in Docker is past its retention: pure decisions over when each thing was last used.

The retention sweep (bot/runtime/retention.py, composed in entrypoints/retention.py) removes web-evaluation
artifacts, setup and build images and bare git caches that nothing used for longer than their retention.
Each kind states its facts as `Usage(name, last_used)`; `expired` decides. "Last used" is:
- an artifact directory: the newest modification time of the directory and its files;
- a bare git cache: its directory's modification time, which every fetch touches (validators/git_source.py);
- a setup or build image: the later of its creation and its last tag (Docker's `Metadata.LastTagTime`),
  which each build tags again and each warm start from a setup image tags again
  (validators/stages/cached_build.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DAY = 86400.0
_FRACTION = re.compile(r"(?<=\.)(\d+)")


@dataclass(frozen=True)
class Usage:
    """One thing the sweep may remove: its name (a directory, an image id) and when it was last used."""

    name: str
    last_used: float


def cutoff(now: float, days: float) -> float:
    """The time before which a thing kept `days` days is past its retention."""
    return now - days * DAY


def expired(items: Iterable[Usage], before: float, keep: Collection[str] = ()) -> list[str]:
    """The names last used before `before`, except those in `keep` (live work still uses them), sorted."""
    return sorted(item.name for item in items if item.last_used < before and item.name not in keep)


def docker_time(text: str | float | None) -> float:
    """Epoch seconds of one of Docker's RFC 3339 times (nanoseconds allowed; the image list's summaries give
    epoch seconds already); 0 for none or the zero time."""
    if isinstance(text, int | float):
        return float(text)
    if not text or text.startswith("0001-"):
        return 0.0
    # datetime reads at most microseconds: cut the fraction to 6 digits, keep the offset
    stamp = _FRACTION.sub(lambda m: m.group(1)[:6], text.strip().replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return 0.0


def image_last_used(attrs: Mapping[str, Any]) -> float:
    """When an image was last used: the later of its creation and its last tag."""
    metadata = attrs.get("Metadata") or {}
    return max(docker_time(attrs.get("Created")), docker_time(metadata.get("LastTagTime")))


def directory_last_used(path: Path) -> float:
    """Blocking: the newest modification time of `path` and of the entries directly in it (0 when gone)."""
    try:
        newest = path.stat().st_mtime
        with os.scandir(path) as entries:
            for entry in entries:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    except FileNotFoundError:
        return 0.0
    return newest


def directory_bytes(path: Path) -> int:
    """Blocking: the bytes of every file under `path` (the bench's disk use)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total
