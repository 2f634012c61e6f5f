"""The retention sweep on disk: web-evaluation artifacts and bare git caches, real directories and real git."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from validators.git_source import GitCache
from validators.retention import DAY, Usage, cutoff
from validators.web_eval.artifacts import ArtifactStore


def backdate(path: Path, days: float) -> None:
    """Set the times of `path` and of everything in it `days` days back."""
    when = time.time() - days * DAY
    for item in [*path.rglob("*"), path]:
        os.utime(item, (when, when))


def test_artifacts_older_than_their_retention_go_new_and_running_ones_stay(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts", b"k")
    for validation in ("old", "new", "running", "old-touched"):
        store.save(validation, "page.png", b"\x89PNG" + b"0" * 1000)
    backdate(tmp_path / "artifacts" / "old", 15)
    backdate(tmp_path / "artifacts" / "running", 15)
    backdate(tmp_path / "artifacts" / "old-touched", 15)
    store.save("old-touched", "trace.zip", b"PK")  # written to again today: used

    assert store.remove_older_than(cutoff(time.time(), 14), keep={"running"}) == 1

    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == ["new", "old-touched", "running"]
    assert (tmp_path / "artifacts" / "new" / "page.png").is_file()
    assert store.remove_older_than(cutoff(time.time(), 14)) == 1  # once not running, it goes too
    assert ArtifactStore(tmp_path / "none", b"k").remove_older_than(time.time()) == 0  # no directory yet


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def origin_repo(path: Path) -> str:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "one")
    return git(path, "rev-parse", "HEAD")


async def test_a_git_cache_unused_for_its_retention_goes_and_a_fresh_one_stays(tmp_path: Path) -> None:
    old_sha, new_sha = origin_repo(tmp_path / "old"), origin_repo(tmp_path / "new")
    cache = GitCache(tmp_path / "cache")
    stale = await cache.fetch(f"file://{tmp_path / 'old'}", old_sha)
    fresh = await cache.fetch(f"file://{tmp_path / 'new'}", new_sha)
    backdate(stale, 31)
    backdate(fresh, 31)
    assert await cache.fetch(f"file://{tmp_path / 'new'}", new_sha) == fresh  # a fetch is a use, even a cached one

    assert await cache.remove_unused(cutoff(time.time(), 30)) == 1

    assert not stale.exists() and (fresh / "HEAD").is_file()
    again = await cache.fetch(f"file://{tmp_path / 'old'}", old_sha)  # a removed cache is fetched anew
    assert again == stale and (again / "HEAD").is_file()
    assert await cache.remove_unused(cutoff(time.time(), 30)) == 0
    assert await GitCache(tmp_path / "no-cache-yet").remove_unused(time.time()) == 0


async def test_a_cache_fetched_into_after_it_was_listed_is_kept(tmp_path: Path) -> None:
    sha = origin_repo(tmp_path / "origin")
    cache = GitCache(tmp_path / "cache")
    repo = await cache.fetch(f"file://{tmp_path / 'origin'}", sha)
    backdate(repo, 31)
    listed = cache.usage

    def listed_then_fetched() -> list[Usage]:
        usage = listed()  # still old when listed ...
        os.utime(repo)  # ... and fetched into right after
        return usage

    cache.usage = listed_then_fetched  # type: ignore[method-assign]

    assert await cache.remove_unused(cutoff(time.time(), 30)) == 0
    assert (repo / "HEAD").is_file()
