"""The exact commit to validate, from a local cache of bare repositories.

`fetch(url, sha, token, pull_number=N)` keeps one bare repository per URL under the cache root and fetches
exactly that commit. A pull request's commit is fetched from the BASE repository, never from the head
repository: GitHub keeps every PR head there as `refs/pull/N/head` (forks' included), and a private fork's
clone URL is not readable with the base installation's token. So one cache per base repository serves all
its forks. With a pull number, `+refs/pull/N/head:refs/pull/N/head` is fetched (shallow); if `sha` is still
missing (the PR head has moved on since), `git fetch origin <sha>` follows, which GitHub serves for any
commit reachable from one of its refs (an older head of the PR is, when a later commit builds on it).
Without a pull number (the CLI, pushes without a PR) only `git fetch origin <sha>` is tried. `archive` makes
a tar of that commit (`git archive`) — the snapshot receives only the tree, never a `.git` directory,
remote URL or credential.

The installation token is given to git only through the environment of each `git fetch`
(`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0=http.extraHeader`/`GIT_CONFIG_VALUE_0=Authorization: Basic …`):
never on a command line (visible in `ps`), in a URL, or in a config file on disk. Git's own prompts are
disabled, and errors are reported with the token masked.

Retention: every fetch marks its repository used (the directory's time); `remove_unused` (the retention
sweep, every `RETENTION_SWEEP_MINUTES`) removes the repositories nothing fetched into for `RETENTION_DAYS`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import shutil
from pathlib import Path

from validators.retention import Usage, expired


class GitError(RuntimeError):
    pass


_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
#: the refs fetched by name: a pull request's head, or a branch (never an option-looking or odd name)
_REF = re.compile(r"^refs/(pull/[0-9]+/head|heads/[A-Za-z0-9._/-]+)$")


def _auth_env(token: str | None) -> dict[str, str]:
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/true",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                 "GIT_SSL_CAINFO", "SSL_CERT_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        })
    return env


async def _git(*args: str, cwd: Path | None = None, token: str | None = None, check: bool = True) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "git", *args, cwd=cwd, env=_auth_env(token),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        message = err.decode(errors="replace").strip()
        if token:
            message = message.replace(token, "***")
        raise GitError(f"git {args[0]} failed ({proc.returncode}): {message[-2000:]}")
    return out


class GitCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._locks: dict[str, asyncio.Lock] = {}

    def repo_dir(self, clone_url: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", clone_url.rstrip("/").rsplit("/", 2)[-2:][-1])[:40]
        digest = hashlib.sha256(clone_url.encode()).hexdigest()[:16]
        return self.root / f"{name}-{digest}.git"

    async def fetch(
        self, clone_url: str, sha: str, token: str | None = None, pull_number: int | None = None,
        ref: str | None = None,
    ) -> Path:
        """The bare repository of `clone_url` holding commit `sha`; with `pull_number`, `clone_url` is the
        base repository's and the commit is looked for in its `refs/pull/N/head` first; with `ref` (a merge
        queue's `refs/heads/gh-readonly-queue/...`), in that ref first."""
        if not _SHA.match(sha):
            raise GitError(f"not a commit sha: {sha!r}")
        if not clone_url:
            raise GitError("no clone URL")
        if pull_number is not None and pull_number < 1:
            raise GitError(f"not a pull request number: {pull_number!r}")
        repo = self.repo_dir(clone_url)
        lock = self._locks.setdefault(str(repo), asyncio.Lock())
        async with lock:
            if not (repo / "HEAD").exists():
                repo.parent.mkdir(parents=True, exist_ok=True)
                await _git("init", "--bare", "-q", str(repo))
                await _git("remote", "add", "origin", clone_url, cwd=repo)
            os.utime(repo)  # used now: the retention sweep (`remove_unused`) measures from here
            if await self._has_commit(repo, sha):
                return repo
            if pull_number is not None:
                ref = f"refs/pull/{pull_number}/head"
            pull_error = None if ref is None else await self._fetch_ref(repo, ref, token)
            if not await self._has_commit(repo, sha):
                try:
                    await _git("fetch", "-q", "--no-tags", "--depth=1", "origin", sha, cwd=repo, token=token)
                except GitError as exc:
                    if ref is None:
                        raise
                    why = pull_error or f"it is not {ref}"
                    what = f"of pull request #{pull_number}" if pull_number is not None else f"of {ref}"
                    raise GitError(f"commit {sha} {what} was not fetched ({why}), nor by itself: {exc}") from exc
            if not await self._has_commit(repo, sha):
                raise GitError(f"commit {sha} was not fetched")
        return repo

    async def remove_unused(self, before: float) -> int:
        """The retention sweep: remove the bare repositories last used before `before` (a fetch marks its
        repository used); each one under its lock, checked again there, so a fetch never loses its cache
        between its start and the archive that follows it. Returns how many were removed."""
        removed = 0
        for name in expired(await asyncio.to_thread(self.usage), before):
            repo = self.root / name
            async with self._locks.setdefault(str(repo), asyncio.Lock()):
                if await asyncio.to_thread(_last_used, repo) >= before:
                    continue  # fetched since it was listed
                await asyncio.to_thread(shutil.rmtree, repo, True)
                removed += 1
        return removed

    def usage(self) -> list[Usage]:
        """Blocking: every bare repository of the cache and when it was last used."""
        if not self.root.is_dir():
            return []
        return [Usage(path.name, _last_used(path)) for path in self.root.iterdir()
                if path.is_dir() and path.name.endswith(".git")]

    async def _fetch_ref(self, repo: Path, ref: str, token: str | None) -> str | None:
        """Fetch `ref` (a PR's `refs/pull/N/head`, a queue branch); the error's text (token masked) on failure."""
        if not _REF.match(ref):
            return f"not a ref this fetches: {ref!r}"
        try:
            await _git("fetch", "-q", "--no-tags", "--depth=1", "origin", f"+{ref}:{ref}", cwd=repo, token=token)
        except GitError as exc:
            return str(exc)
        return None

    async def _has_commit(self, repo: Path, sha: str) -> bool:
        proc = await asyncio.create_subprocess_exec(
            "git", "cat-file", "-e", f"{sha}^{{commit}}", cwd=repo, env=_auth_env(None),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        return await proc.wait() == 0

    async def archive(self, repo_dir: Path, sha: str) -> bytes:
        """A tar of exactly that commit's tree."""
        return await _git("archive", "--format=tar", sha, cwd=repo_dir)

    async def show(self, repo_dir: Path, sha: str, path: str) -> str | None:
        """A file's text at that commit; None when it does not exist there (or is not text)."""
        proc = await asyncio.create_subprocess_exec(
            "git", "show", f"{sha}:{path}", cwd=repo_dir, env=_auth_env(None),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            return None
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            return None


def _last_used(repo: Path) -> float:
    """When a bare repository was last fetched into (its directory's time, touched by every fetch)."""
    try:
        return repo.stat().st_mtime
    except FileNotFoundError:
        return 0.0


async def archive_local(path: str | Path, ref: str = "HEAD") -> bytes:
    """A tar of a commit of a local working copy (the CLI's `validate PATH`)."""
    return await _git("archive", "--format=tar", ref, cwd=Path(path))
