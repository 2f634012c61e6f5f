"""The name under which a repository's Docker objects are kept: cache volumes, setup images, built images.

Decisions:
- The repository's numeric GitHub id when the caller knows it (`id-<n>`): it survives renames and is never
  given to another repository, so an owner who takes over a freed name inherits nothing.
- Otherwise (the CLI, which validates a local folder) a SHA-256 of the full name, lower-cased as GitHub
  compares names (`name-<16 hex>`).
- Never a flattened `owner-repo` slug: `victim-org/app` and `victim/org-app` would share one key, so one
  tenant would read (and poison) the other's dependency caches and setup images.
"""

from __future__ import annotations

import hashlib


def repo_key(repo: str, repo_id: int | None = None) -> str:
    if repo_id is not None:
        return f"id-{int(repo_id)}"
    return "name-" + hashlib.sha256(repo.strip().lower().encode()).hexdigest()[:16]
