"""The fake GitHub's world: apps, installations, repositories and everything in them.

Plain dataclasses, mutated by the fake's operation handlers and by tests (through FakeGitHub's setup
methods, or directly: `fake.repo("o/r").pulls[1].mergeable = False`). No HTTP here.

Decisions:
- Issues and pull requests share one number sequence per repository, like GitHub; a pull request is also
  an issue (its labels and comments live on the `Issue` with the same number).
- Ids, shas and keys come from github_ids.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.github_hook_state import HookDeliveries
from tests.fakes.github_ids import Ids, blob_sha
from tests.fakes.github_ids import new_rsa_key as new_rsa_key  # re-exported: tests import it from here

PERMISSION_OF_ROLE = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


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
class IssueEvent:
    """One entry of an issue's timeline of events (labeled/unlabeled: who did it and when)."""

    id: int
    event: str
    actor: str
    label: str | None
    created_at: float
    actor_type: str = "User"


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
    events: list[IssueEvent] = field(default_factory=list)


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


def pull_files(files: Iterable[PullFile | str]) -> list[PullFile]:
    """Files as given; a bare name becomes a modified file whose blob sha is that of its name."""
    return [f if isinstance(f, PullFile) else PullFile(f, sha=blob_sha(f.encode())) for f in files]


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
    #: reads that still answer `mergeable: null` ("unknown") while GitHub computes it in the background
    computing_reads: int = 0
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
    # None, or its merge queue entry (github_graphql_queue.py): {"id", "position", "state", "enqueued_at",
    # "enqueuer": {"login": ...}, "jump", "solo", "head_oid", "base_oid", "base_ref"}
    queue_entry: dict[str, Any] | None = None
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
    #: a real git repository behind it (FakeGitHub.back_with_git, github_git.py); None: state only
    git_dir: Path | None = None
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

    def branch_of(self, sha: str) -> str | None:
        """The first branch whose head is `sha`, if any."""
        return next((b for b, head in self.branches.items() if head == sha), None)

    def labels_of(self, issue: Issue) -> list[Label]:
        return [self.labels[name] for name in issue.labels if name in self.labels]

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
    #: pull request review comments (tests/fakes/github_rest_review_comments.py), a separate id space
    review_comments: dict[int, Any] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    manifest_codes: dict[str, App] = field(default_factory=dict)
    #: the App webhooks' delivery logs and redeliveries (github_hook_state.py)
    hooks: HookDeliveries = field(default_factory=HookDeliveries)
    #: organization teams by "<org lowercased>/<slug>" (github_rest_orgs.Team)
    teams: dict[str, Any] = field(default_factory=dict)
    #: GitHub sign-in: the browser's user, OAuth codes and user access tokens (github_oauth.OAuthState)
    oauth: Any = None

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name]

    def installation_for(self, full_name: str) -> Installation | None:
        return next((i for i in self.installations.values() if full_name in i.repos), None)

    def add_comment(self, repo: str, issue_number: int, body: str, user: str, user_type: str) -> Comment:
        now = self.clock()
        comment = Comment(self.ids.next_id(), repo, issue_number, body, user, user_type, now, now)
        self.comments[comment.id] = comment
        return comment

    def add_status(
        self,
        repo: Repo,
        sha: str,
        state: str,
        context: str,
        description: str | None,
        target_url: str | None,
        creator: str,
    ) -> Status:
        """A commit status of `sha`, newest last."""
        status = Status(self.ids.next_id(), state, context, description, target_url, creator, self.clock())
        repo.statuses.setdefault(sha, []).append(status)
        return status

    def new_check_run(self, repo: Repo, app_id: int, name: str, head_sha: str, **fields: Any) -> CheckRun:
        """A check run in the suite of (repo, app, sha), which is created if missing; the run itself is
        not registered in `check_runs` (the caller does, once the run is valid)."""
        suite = self.suite_for(repo.full_name, app_id, head_sha, repo.branch_of(head_sha))
        return CheckRun(self.ids.next_id(), repo.full_name, app_id, name, head_sha, suite.id, **fields)

    def suite_for(self, repo: str, app_id: int, head_sha: str, head_branch: str | None) -> CheckSuite:
        """The check suite of (repo, app, sha), created on first use like GitHub does."""
        for suite in self.check_suites.values():
            if (suite.repo, suite.app_id, suite.head_sha) == (repo, app_id, head_sha):
                return suite
        suite = CheckSuite(self.ids.next_id(), repo, app_id, head_sha, head_branch, created_at=self.clock())
        self.check_suites[suite.id] = suite
        return suite
