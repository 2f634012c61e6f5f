"""Should this pull request merge now? A pure function over a snapshot of its state (Kodiak's model).

`decide_merge(pr, policy)` returns one of:

- `NotAsked`  — nobody asked for a merge: `merge.auto_merge` is false, nobody with write permission said
  `/codegen merge`, and the PR has no `codegen: automerge` label;
- `Blocked(reasons)` — something a person must change: the PR is closed or a draft; it carries
  `do-not-merge` or `codegen: hold`; a review requesting changes still stands; it has conflicts; a required
  check concluded anything but success (a `skipped` required check blocks too: nothing was validated);
- `Wait(waiting_for)` — nothing is wrong yet, something is still to come: a required check has not
  reported or is still running; GitHub is still computing mergeability; the head moved since our
  validation;
- `Merge(sha, method)` — every condition holds **for the current head SHA**: merge exactly that SHA.

Required checks are `merge.required_checks` plus every status check the base branch's protection and
rulesets require. Checks are matched by name on the head SHA; the latest report of a name counts.
Blocked reasons are listed before waits so that the answer to `/codegen merge` leads with what a person
must fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BLOCKING_LABELS = ("do-not-merge", "codegen: hold")
AUTOMERGE_LABEL = "codegen: automerge"
PASSING = frozenset({"success"})


@dataclass(frozen=True)
class CheckResult:
    """The latest report of one check (a check run or a commit status) on the head SHA."""

    name: str
    #: None while queued / in progress / pending
    conclusion: str | None


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    submitted_at: str = ""


@dataclass(frozen=True)
class PullSnapshot:
    number: int
    open: bool
    merged: bool
    draft: bool
    head_sha: str
    #: None while GitHub computes it
    mergeable: bool | None
    mergeable_state: str
    labels: frozenset[str]
    reviews: tuple[Review, ...]
    checks: Mapping[str, CheckResult]
    required_by_branch: frozenset[str] = frozenset()
    #: the head SHA our last passing validation covered (None: none passed)
    validated_sha: str | None = None
    #: someone with write permission said `/codegen merge` for this PR
    merge_command: bool = False


@dataclass(frozen=True)
class MergePolicy:
    auto_merge: bool
    method: str
    required_checks: tuple[str, ...]


@dataclass(frozen=True)
class NotAsked:
    reason: str = "auto-merge is off and nobody asked for a merge"


@dataclass(frozen=True)
class Blocked:
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Wait:
    waiting_for: tuple[str, ...]


@dataclass(frozen=True)
class Merge:
    sha: str
    method: str
    checks: tuple[str, ...] = field(default_factory=tuple)


MergeDecision = NotAsked | Blocked | Wait | Merge


def merge_requested(pr: PullSnapshot, policy: MergePolicy) -> bool:
    return policy.auto_merge or pr.merge_command or AUTOMERGE_LABEL in pr.labels


def standing_change_requests(reviews: tuple[Review, ...]) -> list[str]:
    """Users whose latest decisive review requests changes (a later approval or dismissal clears it)."""
    latest: dict[str, str] = {}
    for review in sorted(reviews, key=lambda r: r.submitted_at):
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user] = review.state
    return sorted(user for user, state in latest.items() if state == "CHANGES_REQUESTED")


def required_checks(pr: PullSnapshot, policy: MergePolicy) -> list[str]:
    return sorted(set(policy.required_checks) | set(pr.required_by_branch))


def decide_merge(pr: PullSnapshot, policy: MergePolicy) -> MergeDecision:
    if not merge_requested(pr, policy):
        return NotAsked()
    blocked: list[str] = []
    waiting: list[str] = []
    if pr.merged:
        return Blocked(("the pull request is already merged",))
    if not pr.open:
        return Blocked(("the pull request is closed",))
    if pr.draft:
        blocked.append("the pull request is a draft")
    for label in BLOCKING_LABELS:
        if label in pr.labels:
            blocked.append(f"it has the label `{label}`")
    requesters = standing_change_requests(pr.reviews)
    if requesters:
        blocked.append("changes are requested by " + ", ".join(f"@{u}" for u in requesters))
    if pr.mergeable is False or pr.mergeable_state == "dirty":
        blocked.append("it has merge conflicts with the base branch")
    required = required_checks(pr, policy)
    for name in required:
        check = pr.checks.get(name)
        if check is None:
            waiting.append(f"`{name}` to report")
        elif check.conclusion is None:
            waiting.append(f"`{name}` to finish")
        elif check.conclusion == "skipped":
            blocked.append(f"required check `{name}` was skipped, so nothing was validated")
        elif check.conclusion not in PASSING:
            blocked.append(f"required check `{name}` concluded `{check.conclusion}`")
    if blocked:
        return Blocked(tuple(blocked))
    if pr.mergeable is None:
        waiting.append("GitHub to compute mergeability")
    if pr.validated_sha != pr.head_sha:
        waiting.append(f"a passing validation of the head commit `{pr.head_sha[:12]}`")
    if waiting:
        return Wait(tuple(waiting))
    return Merge(pr.head_sha, policy.method, tuple(required))
