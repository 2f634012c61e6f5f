"""`snapshot.cache_setup: true`: reuse what `setup` installed while nothing it depends on changed.

Opt-in, because only the repository knows whether its `setup` installs dependencies only (cacheable) or
also the project itself (which must be rebuilt from every commit).

Key: the base image, the `setup` commands, `snapshot.env`, `workdir`, and the content of every dependency
manifest in the tree (requirements*.txt, pyproject.toml, setup.py/cfg, Pipfile.lock, poetry.lock,
package.json, package-lock.json, yarn.lock, pnpm-lock.yaml, go.mod/go.sum, Cargo.toml/lock, Gemfile.lock,
composer.lock). Cold: the container is set up as usual, the list of the commit's own files is written to
`MANIFEST` inside it, and it is committed as the image `codegen-bot-setup/<repo key>:<key>` (the newest
`KEEP_PER_REPO` per repository are kept; older ones are removed then). The repository's key is its numeric
id, or a hash of its full name (validators/repo_key.py): never a flattened `owner-repo`, which two tenants
could share. Warm: the snapshot
starts from that image, `setup` is skipped, and before the new commit's tree is copied in, the files of
the old tree that the new commit no longer has are deleted, so no stale source survives, while what
`setup` created (`node_modules`, a venv in the workdir, ...) stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import posixpath
import re
import tarfile
from collections.abc import Iterable

import docker
import docker.errors
from docker.models.images import Image

from validators.repo_key import repo_key

#: setup images kept per repository (the newest); older ones are removed when a new one is written
KEEP_PER_REPO = 3
MANIFEST = "/etc/codegen-bot-setup-tree.txt"
STALE = "/tmp/codegen-bot-stale.txt"
LABEL = "codegen-bot.setup-cache"
_MANIFESTS = re.compile(
    r"^(requirements[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile\.lock|poetry\.lock|package\.json"
    r"|package-lock\.json|yarn\.lock|pnpm-lock\.yaml|go\.mod|go\.sum|Cargo\.toml|Cargo\.lock|Gemfile\.lock"
    r"|composer\.lock)$"
)


def tree_files(source_tar: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(source_tar)) as tar:
        return sorted(m.name.lstrip("./") for m in tar.getmembers() if m.isfile() or m.issym())


def cache_key(image: str, setup: Iterable[str], env: dict[str, str], workdir: str, source_tar: bytes) -> str:
    digest = hashlib.sha256()
    for part in (image, workdir, *setup, *sorted(f"{k}={v}" for k, v in env.items())):
        digest.update(part.encode() + b"\0")
    with tarfile.open(fileobj=io.BytesIO(source_tar)) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile() and _MANIFESTS.match(posixpath.basename(member.name)):
                data = tar.extractfile(member)
                digest.update(member.name.encode() + b"\0" + (data.read() if data else b"") + b"\0")
    return digest.hexdigest()[:24]


def image_tag(repo: str, key: str, repo_id: int | None = None) -> str:
    return f"codegen-bot-setup/{repo_key(repo, repo_id)}:{key}"


def setup_images(client: docker.DockerClient, repo: str, repo_id: int | None = None) -> list[tuple[str, str]]:
    """(tag, created) of the setup images kept for `repo`."""
    prefix = image_tag(repo, "", repo_id)
    return [(tag, image.attrs.get("Created", "")) for image in client.images.list(filters={"label": f"{LABEL}=1"})
            for tag in image.tags if tag.startswith(prefix)]


def mark_used(image: Image, tag: str) -> None:
    """Blocking: tag `image` as `tag` again, so its last tag time (the retention sweep's "last used",
    validators/image_retention.py) is now; a failure only costs the cache an earlier expiry."""
    repository, _, version = tag.rpartition(":")
    with contextlib.suppress(docker.errors.APIError):
        image.tag(repository, version)


def to_prune(images: list[tuple[str, str]], keep: int | None = None) -> list[str]:
    """Of (tag, created) pairs of one repository's setup images, the tags beyond the newest `keep`."""
    keep = KEEP_PER_REPO if keep is None else keep
    newest_first = sorted(images, key=lambda item: item[1], reverse=True)
    return [tag for tag, _ in newest_first[keep:]]


def stale_files(old_tree: str, new_files: list[str]) -> list[str]:
    keep = set(new_files)
    return [name for name in old_tree.splitlines() if name and name not in keep]
