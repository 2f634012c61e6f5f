"""The commit to validate, fetched into the cache from a real git repository."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from validators.git_source import GitCache, GitError, _auth_env


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    (repo / "app.py").write_text("VERSION = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "app.py").write_text("VERSION = 2\n")
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "two")
    return repo, first, git(repo, "rev-parse", "HEAD")


def names_in(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


async def test_fetch_and_archive_exactly_that_commit(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, first, second = origin
    cache = GitCache(tmp_path / "cache")
    token = "ghs_supersecrettoken0123456789"
    repo_dir = await cache.fetch(f"file://{repo}", first, token)
    files = names_in(await cache.archive(repo_dir, first))
    assert files == {"app.py": b"VERSION = 1\n"}  # no .git, nothing of the later commit
    assert await cache.show(repo_dir, first, "app.py") == "VERSION = 1\n"
    assert await cache.show(repo_dir, first, "new.txt") is None
    again = await cache.fetch(f"file://{repo}", second, token)
    assert again == repo_dir and names_in(await cache.archive(again, second))["new.txt"] == b"new\n"
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"the token was written to {path}"


async def test_unknown_commits_and_bad_shas_fail_clearly(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, _, _ = origin
    cache = GitCache(tmp_path / "cache")
    with pytest.raises(GitError, match="not a commit sha"):
        await cache.fetch(f"file://{repo}", "main; rm -rf /", None)
    with pytest.raises(GitError):
        await cache.fetch(f"file://{repo}", "0" * 40, "ghs_tok")


def test_the_token_travels_only_in_the_environment() -> None:
    env = _auth_env("ghs_abc")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("Authorization: Basic ")
    assert "ghs_abc" not in env["GIT_CONFIG_VALUE_0"]  # base64 of x-access-token:TOKEN
    assert "GIT_CONFIG_COUNT" not in _auth_env(None)
