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
- `UpdateBranch(sha)` — everything else holds but the head is behind its base and `merge.update_branch`
  is on: bring the branch up to date (a new head, validated again before any merge).

GitHub's `mergeable_state`: `dirty` blocks ("conflicts"); `behind` blocks unless the branch may be
updated; `blocked` waits, saying so (a rule GitHub enforces that the bot cannot see, e.g. a review);
`unknown` with `mergeable: null` waits while GitHub computes it (the service looks again shortly).

Required checks are `merge.required_checks` plus every status check the base branch's protection and
rulesets require. Checks are matched by name on the head SHA; the latest report of a name counts, and
only a report from the source that may give it (`trusted_checks`): a `codegen/*` check only from this App,
another check only from the app that branch protection, a ruleset or `merge.check_apps` names for it
(any source when none names one). A commit status has no app, so it never satisfies a `codegen/*` check
nor one tied to an app.

A merge request holds for the head SHA it was given at: `/codegen merge` and the `codegen: automerge`
label count only while the head is still the commit they were given for (a push withdraws them).
Blocked reasons are listed before waits so that the answer to `/codegen merge` leads with what a person
must fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    #: the GitHub App that reported it (None: a commit status, which has no app)
    app_id: int | None = None


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
    #: the head SHA at which someone with write permission said `/codegen merge` (None: nobody did)
    merge_command_sha: str | None = None
    #: the head SHA at which a user with write permission added the `codegen: automerge` label
    automerge_label_sha: str | None = None
    #: whoever added the label last (GitHub's issue events) has write permission now
    automerge_label_by_writer: bool = False
    #: branch protection could be read (False: the App lacks `administration: read`)
    protection_readable: bool = True


@dataclass(frozen=True)
class MergePolicy:
    auto_merge: bool
    method: str
    required_checks: tuple[str, ...]
    update_branch: bool = False


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


@dataclass(frozen=True)
class UpdateBranch:
    sha: str


MergeDecision = NotAsked | Blocked | Wait | Merge | UpdateBranch


@dataclass(frozen=True)
class CheckSources:
    """Who may report which check: this App for `codegen/*`, and the app named for another check."""

    own_app_id: int | None
    apps: Mapping[str, int] = field(default_factory=dict)

    def may_report(self, report: CheckResult) -> bool:
        if report.name.startswith("codegen/"):
            return report.app_id is not None and report.app_id == self.own_app_id
        required = self.apps.get(report.name)
        return required is None or report.app_id == required


def trusted_checks(
    check_runs: Iterable[tuple[int, CheckResult]], statuses: Iterable[CheckResult], sources: CheckSources
) -> dict[str, CheckResult]:
    """The report that counts for each name: the latest check run (highest id) from a source that may
    give it; a commit status fills a name no such check run reported."""
    latest: dict[str, tuple[int, CheckResult]] = {}
    for run_id, report in check_runs:
        if sources.may_report(report) and (report.name not in latest or run_id > latest[report.name][0]):
            latest[report.name] = (run_id, report)
    checks = {name: report for name, (_, report) in latest.items()}
    for status in statuses:
        if status.name not in checks and sources.may_report(status):
            checks[status.name] = status
    return checks


def merge_requested(pr: PullSnapshot, policy: MergePolicy) -> bool:
    labelled = (
        AUTOMERGE_LABEL in pr.labels and pr.automerge_label_sha == pr.head_sha and pr.automerge_label_by_writer
    )
    return policy.auto_merge or pr.merge_command_sha == pr.head_sha or labelled


def standing_change_requests(reviews: tuple[Review, ...]) -> list[str]:
    """Users whose latest decisive review requests changes (a later approval or dismissal clears it)."""
    latest: dict[str, str] = {}
    for review in sorted(reviews, key=lambda r: r.submitted_at):
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user] = review.state
    return sorted(user for user, state in latest.items() if state == "CHANGES_REQUESTED")


def required_checks(pr: PullSnapshot, policy: MergePolicy) -> list[str]:
    return sorted(set(policy.required_checks) | set(pr.required_by_branch))


PROTECTION_UNREAD = (
    "branch protection could not be read (the App lacks `administration: read`), so only rulesets and"
    " `merge.required_checks` were checked here; GitHub still enforces protection when merging"
)


def decide_merge(pr: PullSnapshot, policy: MergePolicy) -> MergeDecision:
    """The decision, with a note when branch protection could not be read (never taken as "none")."""
    decision = _decide(pr, policy)
    if pr.protection_readable:
        return decision
    if isinstance(decision, Blocked):
        return Blocked((*decision.reasons, PROTECTION_UNREAD))
    if isinstance(decision, Wait):
        return Wait((*decision.waiting_for, PROTECTION_UNREAD))
    return decision


def _decide(pr: PullSnapshot, policy: MergePolicy) -> MergeDecision:
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
    behind = pr.mergeable_state == "behind"
    if behind and not policy.update_branch:
        blocked.append("its branch is behind the base branch (update it, or set `merge.update_branch: true`)")
    if pr.mergeable_state == "blocked":
        waiting.append("GitHub to unblock it (a branch rule the bot cannot see, such as a required review)")
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
    if behind:
        return UpdateBranch(pr.head_sha)
    return Merge(pr.head_sha, policy.method, tuple(required))
