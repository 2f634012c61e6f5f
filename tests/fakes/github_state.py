"""The fake GitHub's world: apps, installations, repositories and everything in them.

Plain dataclasses, mutated by the fake's operation handlers and by tests (through FakeGitHub's setup
methods, or directly: `fake.repo("o/r").pulls[1].mergeable = False`). No HTTP here.

Decisions:
- Issues and pull requests share one number sequence per repository, like GitHub; a pull request is also
  an issue (its labels and comments live on the `Issue` with the same number).
- Ids come from one counter per fake, so ids never collide across kinds; shas are 40 hex digits derived
  from a counter (stable within a test, never equal to another sha).
- Blob shas are real git blob shas (`sha1("blob <len>\\0" + content)`), so a bot may compare them with git.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PERMISSION_OF_ROLE = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def blob_sha(content: bytes) -> str:
    """The git blob sha of `content`."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def new_rsa_key() -> tuple[str, str]:
    """A fresh 2048-bit RSA key pair as (private PEM in PKCS#1 like GitHub's, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class Ids:
    """Monotonic ids and fake shas for one fake instance."""

    def __init__(self, start: int = 1000) -> None:
        self._ids = itertools.count(start)
        self._shas = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def next_sha(self) -> str:
        return hashlib.sha1(b"fake-commit-%d" % next(self._shas)).hexdigest()


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    client_id: str
    client_secret: str
    webhook_secret: str
    private_key_pem: str
    public_key_pem: str
    permissions: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    account_type: str = "Organization"
    repos: list[str] = field(default_factory=list)  # full names
    repository_selection: str = "selected"
    permissions: dict[str, str] = field(default_factory=dict)
    suspended: bool = False


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float
    repos: list[str] | None = None  # None: every repository of the installation
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Reaction:
    id: int
    content: str
    user: str
    created_at: float


@dataclass
class Comment:
    id: int
    repo: str
    issue_number: int
    body: str
    user: str
    user_type: str
    created_at: float
    updated_at: float
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    is_pull: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class Review:
    id: int
    user: str
    state: str
    commit_id: str
    body: str
    submitted_at: float


@dataclass
class PullFile:
    filename: str
    status: str = "modified"
    additions: int = 1
    deletions: int = 0
    patch: str | None = None
    sha: str = ""
    previous_filename: str | None = None


@dataclass
class Pull:
    number: int
    id: int
    node_id: str
    title: str
    body: str | None
    user: str
    head_ref: str
    head_sha: str
    head_repo: str | None  # full name; differs from the base repo for forks; None: the fork was deleted
    base_ref: str
    base_sha: str
    state: str = "open"
    draft: bool = False
    mergeable: bool | None = True
    mergeable_state: str = "clean"
    merged: bool = False
    merged_by: str | None = None
    merged_at: float | None = None
    merge_commit_sha: str | None = None
    maintainer_can_modify: bool = False
    files: list[PullFile] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    # None, or {"enabled_by": {"login": ...}, "merge_method": "merge"|"squash"|"rebase", "commit_title",
    # "commit_message", "enabled_at" (epoch seconds), "author_email"}; GraphQL and REST both show it
    auto_merge: dict[str, Any] | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class Annotation:
    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    title: str | None = None
    raw_details: str | None = None
    start_column: int | None = None
    end_column: int | None = None


@dataclass
class CheckRun:
    id: int
    repo: str
    app_id: int
    name: str
    head_sha: str
    suite_id: int
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    output: dict[str, Any] = field(default_factory=dict)  # title, summary, text (latest values)
    annotations: list[Annotation] = field(default_factory=list)  # accumulated across updates
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CheckSuite:
    id: int
    repo: str
    app_id: int
    head_sha: str
    head_branch: str | None
    status: str | None = None  # None: derived from the suite's runs
    conclusion: str | None = None
    created_at: float = 0.0


@dataclass
class Status:
    id: int
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: float


@dataclass
class Protection:
    required_contexts: list[str] | None = None  # None: required status checks not enabled
    strict: bool = False
    required_approving_review_count: int | None = None
    enforce_admins: bool = False


@dataclass
class Comparison:
    status: str = "ahead"
    ahead_by: int = 1
    behind_by: int = 0
    files: list[PullFile] = field(default_factory=list)
    diff: str = ""


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    owner_type: str = "Organization"
    default_branch: str = "main"
    private: bool = False
    fork: bool = False
    allow_auto_merge: bool = True
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    delete_branch_on_merge: bool = False
    archived: bool = False
    #: where git clones from (tests point it at a local repository: file://...); None: the github URL
    clone_url: str | None = None
    branches: dict[str, str] = field(default_factory=dict)  # name -> head sha
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)  # ref (branch or sha) -> path -> bytes
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role
    protections: dict[str, Protection] = field(default_factory=dict)
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[Status]] = field(default_factory=dict)  # sha -> newest last
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    deleted_refs: list[str] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve_ref(self, ref: str) -> str:
        """A branch name (optionally "heads/..."/"refs/heads/...") to its head sha; anything else as is."""
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix) and ref[len(prefix) :] in self.branches:
                return self.branches[ref[len(prefix) :]]
        return self.branches.get(ref, ref)

    def files_at(self, ref: str | None) -> dict[str, bytes] | None:
        """The tree at a branch or sha (a branch's head sha finds the branch's files too)."""
        ref = ref or self.default_branch
        for prefix in ("refs/heads/", "heads/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix) :]
        if ref in self.files:
            return self.files[ref]
        for branch, sha in self.branches.items():
            if sha == ref and branch in self.files:
                return self.files[branch]
        if ref in self.branches:
            return {}
        return None

    def take_number(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number


@dataclass
class World:
    """Everything the fake GitHub knows. `clock` is seconds since the epoch (tests may replace it)."""

    ids: Ids = field(default_factory=Ids)
    clock: Callable[[], float] = time.time
    token_ttl: float = 3600.0
    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)  # full name -> Repo
    comments: dict[int, Comment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    manifest_codes: dict[str, App] = field(default_factory=dict)

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def installation_for(self, full_name: str) -> Installation | None:
        return next((i for i in self.installations.values() if full_name in i.repos), None)

    def suite_for(self, repo: str, app_id: int, head_sha: str, head_branch: str | None) -> CheckSuite:
        """The check suite of (repo, app, sha), created on first use like GitHub does."""
        for suite in self.check_suites.values():
            if (suite.repo, suite.app_id, suite.head_sha) == (repo, app_id, head_sha):
                return suite
        suite = CheckSuite(self.ids.next_id(), repo, app_id, head_sha, head_branch, created_at=self.clock())
        self.check_suites[suite.id] = suite
        return suite
