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
    # served as GitHub serves: only commits reachable from a ref (a branch, refs/pull/N/head)
    git(repo, "config", "uploadpack.allowReachableSHA1InWant", "true")
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


def fork_commits(repo: Path, fork: Path, count: int) -> list[str]:
    """`count` commits made in a fork's working copy (a clone of `repo`): none of them is in `repo` yet.

    (Git's upload-pack enforces allowReachableSHA1InWant in protocol v0/v1 only; a v2 `want` may name any
    object the repository has. GitHub serves only reachable commits, so unpublished commits stay out of it.)"""
    if not fork.exists():
        subprocess.run(["git", "clone", "-q", str(repo), str(fork)], check=True, capture_output=True)
        git(fork, "config", "user.email", "f@example.com")
        git(fork, "config", "user.name", "f")
    made = []
    for _ in range(count):
        number = len(git(fork, "log", "--format=%H", "--", "fork.txt").split())
        (fork / "fork.txt").write_text(f"fork {number}\n")
        git(fork, "add", ".")
        git(fork, "commit", "-q", "-m", f"fork {number}")
        made.append(git(fork, "rev-parse", "HEAD"))
    return made


def publish(repo: Path, fork: Path, number: int, sha: str) -> None:
    """GitHub's `refs/pull/N/head` in the base repository: the PR's head, whichever repository it came from."""
    git(repo, "fetch", "-q", str(fork), f"+{sha}:refs/pull/{number}/head")


async def test_a_forks_pull_head_is_fetched_from_the_base_repository_through_its_pull_ref(
    origin: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, _, main_head = origin
    (head,) = fork_commits(repo, tmp_path / "fork", 1)
    url, token = f"file://{repo}", "ghs_supersecrettoken0123456789"
    cache = GitCache(tmp_path / "cache")
    with pytest.raises(GitError) as unpublished:
        await cache.fetch(url, head, token)  # not (yet) reachable from any ref of the base repository
    assert token not in str(unpublished.value)
    with pytest.raises(GitError, match="pull request #7"):
        await cache.fetch(url, head, token, pull_number=7)
    publish(repo, tmp_path / "fork", 7, head)
    repo_dir = await cache.fetch(url, head, token, pull_number=7)
    assert repo_dir == cache.repo_dir(url)
    assert git(repo_dir, "rev-parse", "refs/pull/7/head") == head  # fetched through the PR's ref
    assert names_in(await cache.archive(repo_dir, head)) == {
        "app.py": b"VERSION = 2\n", "new.txt": b"new\n", "fork.txt": b"fork 0\n"}
    assert await cache.fetch(url, main_head, token, pull_number=7) == repo_dir  # a base commit of the PR too
    assert git(repo_dir, "rev-parse", f"{main_head}^{{commit}}") == main_head
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [repo_dir.name]  # one cache for the base


async def test_an_older_head_of_the_pull_request_is_fetched_after_its_ref_moved_on(
    origin: tuple[Path, str, str], tmp_path: Path
) -> None:
    repo, _, _ = origin
    older, newer = fork_commits(repo, tmp_path / "fork", 2)
    publish(repo, tmp_path / "fork", 7, newer)  # the PR's head moved on; `older` is reachable only through it
    url = f"file://{repo}"
    cache = GitCache(tmp_path / "cache")
    repo_dir = await cache.fetch(url, older, None, pull_number=7)
    assert git(repo_dir, "rev-parse", "refs/pull/7/head") == newer  # the ref was fetched (shallow), then the SHA
    assert names_in(await cache.archive(repo_dir, older))["fork.txt"] == b"fork 0\n"
    (never,) = fork_commits(repo, tmp_path / "fork", 1)  # a commit the PR never had: an error, not a guess
    with pytest.raises(GitError, match=f"commit {never} of pull request #7 was not fetched"):
        await cache.fetch(url, never, None, pull_number=7)


async def test_a_pull_number_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a pull request number"):
        await GitCache(tmp_path / "cache").fetch("file:///nowhere/shop.git", "a" * 40, None, pull_number=0)


def test_the_token_travels_only_in_the_environment() -> None:
    env = _auth_env("ghs_abc")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"].startswith("Authorization: Basic ")
    assert "ghs_abc" not in env["GIT_CONFIG_VALUE_0"]  # base64 of x-access-token:TOKEN
    assert "GIT_CONFIG_COUNT" not in _auth_env(None)
