"""Should this pull request merge now? A pure function over a snapshot of its state (Kodiak's model).

`decide_merge(pr, policy)` returns one of:

- `NotAsked`  — nobody asked for a merge: `merge.auto_merge` is false, nobody with write permission said
  `/codegen merge`, and the PR has no `codegen: automerge` label;
- `Blocked(reasons)` — something a person must change: the PR is closed or a draft; it carries
  `do-not-merge` or `codegen: hold`; a ruleset requires more approving reviews than it has; a review
  requesting changes still stands; it has conflicts; a required
  check concluded anything but success (a `skipped` required check blocks too: nothing was validated);
- `Wait(waiting_for)` — nothing is wrong yet, something is still to come: a required check has not
  reported or is still running; GitHub is still computing mergeability; the head moved since our
  validation;
- `Merge(sha, method)` — every condition holds **for the current head SHA**: merge exactly that SHA.
- `UpdateBranch(sha)` — everything else holds but the head is behind its base and `merge.update_branch`
  is on: bring the branch up to date (a new head, validated again before any merge).
- `EnableAutoMerge(sha, method, waiting_for)` — with `merge.use_github_auto_merge`: our validation of the
  head passed and everything still to come is something GitHub itself enforces before it merges (a check
  that branch protection or a ruleset requires, mergeability, a `blocked` rule), so GitHub's own
  auto-merge may be enabled for exactly this head. GitHub refuses to enable it on a PR that is already
  mergeable ("clean status"), which is why this is decided while the answer is still *wait*; once tried for
  a head (enabled or refused) it is not tried again for that head, and a clean PR is merged with
  `PUT /merge` as without the setting. A check required only by `merge.required_checks`, or tied to an app
  only by `merge.check_apps`, is not enforced by GitHub, so it keeps the decision with the bot.

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

HOLD_LABEL = "codegen: hold"
BLOCKING_LABELS = ("do-not-merge", HOLD_LABEL)
AUTOMERGE_LABEL = "codegen: automerge"
PASSING = frozenset({"success"})


class Reason(str):
    """A blocking reason: its text (what a person reads; a `str`, so reasons join and compare as text) and
    its `kind` (what the merge notice links to: the PR, its checks, its reviews, its conflicts)."""

    kind: str

    def __new__(cls, kind: str, text: str) -> Reason:
        made = super().__new__(cls, text)
        made.kind = kind
        return made


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
    #: approving reviews the base branch's rulesets require
    required_approvals: int = 0
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
    #: the head SHA for which enabling GitHub's auto-merge was tried (enabled or refused)
    native_auto_merge_sha: str | None = None
    #: GitHub's auto-merge is on for this PR now (the REST `auto_merge` field)
    native_auto_merge_on: bool = False


@dataclass(frozen=True)
class MergePolicy:
    auto_merge: bool
    method: str
    required_checks: tuple[str, ...]
    update_branch: bool = False
    use_github_auto_merge: bool = False
    #: checks whose app only `merge.check_apps` names (GitHub does not enforce that)
    app_pinned: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NotAsked:
    reason: str = "auto-merge is off and nobody asked for a merge"


@dataclass(frozen=True)
class Blocked:
    #: each a `Reason` when decided here (plain text is accepted: it gets no link)
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


@dataclass(frozen=True)
class EnableAutoMerge:
    sha: str
    method: str
    waiting_for: tuple[str, ...]


MergeDecision = NotAsked | Blocked | Wait | Merge | UpdateBranch | EnableAutoMerge


@dataclass(frozen=True)
class Pending:
    """Something still to come, and whether GitHub itself waits for it before merging."""

    what: str
    enforced_by_github: bool


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


def asked_before_gathering(
    auto_merge: bool, head_sha: str, labels: Iterable[str], merge_command_sha: str | None, automerge_sha: str | None
) -> bool:
    """Could anyone have asked for this head to merge? Known from the config, the labels and the store
    alone, before a single request: when False, the decision is `NotAsked` whatever GitHub would say."""
    labelled = AUTOMERGE_LABEL in set(labels) and automerge_sha == head_sha
    return auto_merge or merge_command_sha == head_sha or labelled


def merge_requested(pr: PullSnapshot, policy: MergePolicy) -> bool:
    labelled = (
        AUTOMERGE_LABEL in pr.labels and pr.automerge_label_sha == pr.head_sha and pr.automerge_label_by_writer
    )
    return policy.auto_merge or pr.merge_command_sha == pr.head_sha or labelled


def latest_decisions(reviews: tuple[Review, ...], state: str) -> list[str]:
    """Users whose latest decisive review (approve, request changes, dismissed) is `state`."""
    latest: dict[str, str] = {}
    for review in sorted(reviews, key=lambda r: r.submitted_at):
        if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            latest[review.user] = review.state
    return sorted(user for user, decided in latest.items() if decided == state)


def standing_change_requests(reviews: tuple[Review, ...]) -> list[str]:
    """Users whose latest decisive review requests changes (a later approval or dismissal clears it)."""
    return latest_decisions(reviews, "CHANGES_REQUESTED")


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
        return Blocked((*decision.reasons, Reason("protection", PROTECTION_UNREAD)))
    if isinstance(decision, Wait):
        return Wait((*decision.waiting_for, PROTECTION_UNREAD))
    return decision


def _blockers(pr: PullSnapshot) -> list[str]:
    blocked: list[str] = []
    if pr.draft:
        blocked.append(Reason("draft", "the pull request is a draft"))
    for label in BLOCKING_LABELS:
        if label in pr.labels:
            blocked.append(Reason("label", f"it has the label `{label}`"))
    approvals = len(latest_decisions(pr.reviews, "APPROVED"))
    if approvals < pr.required_approvals:
        blocked.append(Reason("review", f"it needs {pr.required_approvals} approving review(s) and has {approvals}"))
    requesters = standing_change_requests(pr.reviews)
    if requesters:
        who = ", ".join(f"@{u}" for u in requesters)
        blocked.append(Reason("changes_requested", f"changes are requested by {who}"))
    if pr.mergeable is False or pr.mergeable_state == "dirty":
        blocked.append(Reason("conflicts", "it has merge conflicts with the base branch"))
    return blocked


def _checks(pr: PullSnapshot, policy: MergePolicy, required: list[str]) -> tuple[list[str], list[Pending]]:
    """(blocking reasons, pending checks) of the required checks."""
    blocked: list[str] = []
    pending: list[Pending] = []
    for name in required:
        check = pr.checks.get(name)
        enforced = name in pr.required_by_branch and name not in policy.app_pinned
        if check is None:
            pending.append(Pending(f"`{name}` to report", enforced))
        elif check.conclusion is None:
            pending.append(Pending(f"`{name}` to finish", enforced))
        elif check.conclusion == "skipped":
            blocked.append(Reason("check", f"required check `{name}` was skipped, so nothing was validated"))
        elif check.conclusion not in PASSING:
            blocked.append(Reason("check", f"required check `{name}` concluded `{check.conclusion}`"))
    return blocked, pending


def _decide(pr: PullSnapshot, policy: MergePolicy) -> MergeDecision:
    if not merge_requested(pr, policy):
        return NotAsked()
    if pr.merged:
        return Blocked((Reason("merged", "the pull request is already merged"),))
    if not pr.open:
        return Blocked((Reason("closed", "the pull request is closed"),))
    blocked = _blockers(pr)
    behind = pr.mergeable_state == "behind"
    if behind and not policy.update_branch:
        blocked.append(Reason("behind", "its branch is behind the base branch (update it, or set"
                              " `merge.update_branch: true`)"))
    pending: list[Pending] = []
    if pr.mergeable_state == "blocked":
        pending.append(Pending("GitHub to unblock it (a branch rule the bot cannot see, such as a required review)",
                               True))
    required = required_checks(pr, policy)
    check_blocks, check_pending = _checks(pr, policy, required)
    blocked.extend(check_blocks)
    pending.extend(check_pending)
    if blocked:
        return Blocked(tuple(blocked))
    if pr.mergeable is None:
        pending.append(Pending("GitHub to compute mergeability", True))
    if pr.validated_sha != pr.head_sha:
        pending.append(Pending(f"a passing validation of the head commit `{pr.head_sha[:12]}`", False))
    if pending:
        return _wait(pr, policy, pending, behind)
    if behind:
        return UpdateBranch(pr.head_sha)
    if pr.native_auto_merge_on and pr.native_auto_merge_sha == pr.head_sha:
        return Wait(("GitHub's auto-merge, enabled for this commit",))
    return Merge(pr.head_sha, policy.method, tuple(required))


def _wait(pr: PullSnapshot, policy: MergePolicy, pending: list[Pending], behind: bool) -> MergeDecision:
    """Wait, or hand the wait to GitHub's own auto-merge when everything left is something GitHub enforces."""
    waiting = tuple(p.what for p in pending)
    handover = (
        policy.use_github_auto_merge
        and pr.protection_readable
        and not behind
        and pr.validated_sha == pr.head_sha
        and pr.native_auto_merge_sha != pr.head_sha
        and all(p.enforced_by_github for p in pending)
    )
    if handover:
        return EnableAutoMerge(pr.head_sha, policy.method, waiting)
    return Wait(waiting)
