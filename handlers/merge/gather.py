"""Gather a pull request's merge snapshot from GitHub (the I/O half of the merge decision)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.github.permissions import permission_at_least
from bot.store.pull_requests import PullRequestState
from handlers.merge.decide import (
    AUTOMERGE_LABEL,
    CheckResult,
    CheckSources,
    PullSnapshot,
    Review,
    trusted_checks,
)

#: a user's permission on the repository (cached by the caller)
PermissionOf = Callable[[str], Awaitable[str]]
#: commit-status states → check conclusions (pending is "not finished")
_STATUS = {"success": "success", "failure": "failure", "error": "failure", "pending": None}


def _app_of(value: object) -> int | None:
    """A required check's app: GitHub's `app_id`/`integration_id`; None or -1 mean any source."""
    return value if isinstance(value, int) and value > 0 else None


@dataclass
class Required:
    """What the base branch requires: check names, the app each must come from, and whether branch
    protection itself could be read (an installation without `administration: read` gets 403 there)."""

    names: set[str] = field(default_factory=set)
    apps: dict[str, int] = field(default_factory=dict)
    protection_readable: bool = True
    #: approving reviews a ruleset's `pull_request` rule requires (0: none required)
    approvals: int = 0


def _refused_by_permission(exc: BadRequest) -> bool:
    """A 403 that says the App may not read this, as opposed to a rate limit (which is waited out)."""
    return exc.status_code == 403 and "rate limit" not in str(exc).lower()


async def _required_by_branch(gh: GitHubAPI, owner: str, repo: str, branch: str) -> Required:
    """The status checks branch protection and rulesets require, and the app each must come from. The
    rulesets endpoint needs no admin permission, so its rules count even when protection is unreadable."""
    required = Required()
    names, apps = required.names, required.apps
    try:
        protection = await gh.getitem(
            "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
            {"owner": owner, "repo": repo, "branch": branch},
        )
        names.update(protection.get("contexts") or [])
        for check in protection.get("checks") or []:
            if check.get("context"):
                names.add(check["context"])
                if (app := _app_of(check.get("app_id"))) is not None:
                    apps[check["context"]] = app
    except BadRequest as exc:
        if _refused_by_permission(exc):
            required.protection_readable = False  # never taken as "not protected": the notice says so
        elif exc.status_code != 404:  # 404: the branch is not protected
            raise
    rules: list[dict[str, Any]] = []
    try:
        async for rule in gh.getiter(  # paginated like every list
            "/repos/{owner}/{repo}/rules/branches/{branch}{?per_page}",
            {"owner": owner, "repo": repo, "branch": branch, "per_page": 100},
        ):
            rules.append(rule)
    except BadRequest as exc:
        if exc.status_code != 404 and not _refused_by_permission(exc):
            raise
    for rule in rules or []:
        if rule.get("type") == "pull_request":
            wanted = (rule.get("parameters") or {}).get("required_approving_review_count") or 0
            required.approvals = max(required.approvals, int(wanted))
        if rule.get("type") == "required_status_checks":
            for check in (rule.get("parameters") or {}).get("required_status_checks") or []:
                if check.get("context"):
                    names.add(check["context"])
                    if (app := _app_of(check.get("integration_id"))) is not None:
                        apps[check["context"]] = app
    return required


async def _checks(gh: GitHubAPI, owner: str, repo: str, sha: str, sources: CheckSources,
                  required: set[str]) -> dict[str, CheckResult]:
    """The trusted report of each check on `sha`. Commit statuses only fill names no trusted check run
    reported, so they are read only when a required name is still missing (one request less, usually)."""
    runs: list[tuple[int, CheckResult]] = []
    async for run in gh.getiter(
        "/repos/{owner}/{repo}/commits/{ref}/check-runs{?per_page}",
        {"owner": owner, "repo": repo, "ref": sha, "per_page": 100},
        iterable_key="check_runs",
    ):
        conclusion = run.get("conclusion") if run.get("status") == "completed" else None
        app_id = (run.get("app") or {}).get("id")
        runs.append((int(run["id"]), CheckResult(run["name"], conclusion, app_id if isinstance(app_id, int) else None)))
    if required <= set(trusted_checks(runs, [], sources)):
        return trusted_checks(runs, [], sources)
    statuses = [  # the combined status is paginated too (30 a page by default): every page is read
        CheckResult(status["context"], _STATUS.get(status.get("state", "pending")))
        async for status in gh.getiter(
            "/repos/{owner}/{repo}/commits/{ref}/status{?per_page}",
            {"owner": owner, "repo": repo, "ref": sha, "per_page": 100}, iterable_key="statuses",
        )
        if status.get("context")
    ]
    return trusted_checks(runs, statuses, sources)


async def _reviews(gh: GitHubAPI, owner: str, repo: str, number: int) -> tuple[Review, ...]:
    reviews: list[Review] = []
    async for review in gh.getiter(
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews{?per_page}",
        {"owner": owner, "repo": repo, "pull_number": number, "per_page": 100},
    ):
        user = (review.get("user") or {}).get("login")
        if user:
            reviews.append(Review(user, review.get("state", ""), review.get("submitted_at") or ""))
    return tuple(reviews)


async def _label_added_by(gh: GitHubAPI, owner: str, repo: str, number: int, label: str) -> str | None:
    """Who added `label` last, from the issue's events (paginated, oldest first)."""
    adder = None
    async for event in gh.getiter(
        "/repos/{owner}/{repo}/issues/{issue_number}/events{?per_page}",
        {"owner": owner, "repo": repo, "issue_number": number, "per_page": 100},
    ):
        if event.get("event") == "labeled" and (event.get("label") or {}).get("name") == label:
            adder = (event.get("actor") or {}).get("login")
    return adder


async def _labelled_by_writer(
    gh: GitHubAPI, owner: str, repo: str, pr: dict[str, Any], permission_of: PermissionOf
) -> bool:
    """The automerge label is on the PR and whoever added it has write permission now."""
    if not any(label.get("name") == AUTOMERGE_LABEL for label in pr.get("labels") or []):
        return False
    adder = await _label_added_by(gh, owner, repo, int(pr["number"]), AUTOMERGE_LABEL)
    return adder is not None and permission_at_least(await permission_of(adder), "write")


async def gather(
    gh: GitHubAPI, owner: str, repo: str, pr: dict[str, Any], *, state: PullRequestState,
    validated_sha: str | None, own_app_id: int | None, check_apps: dict[str, int], permission_of: PermissionOf,
    required_checks: tuple[str, ...] = (),
) -> PullSnapshot:
    """The snapshot the decision needs, from the PR as fetched (once) by the caller.

    `check_apps` (the config's `merge.check_apps`) names the app that must report a check; it wins over
    what branch protection says."""
    number, head_sha = int(pr["number"]), pr["head"]["sha"]
    required = await _required_by_branch(gh, owner, repo, pr["base"]["ref"])
    sources = CheckSources(own_app_id, {**required.apps, **check_apps})
    return PullSnapshot(
        number=number,
        open=pr.get("state") == "open",
        merged=bool(pr.get("merged")),
        draft=bool(pr.get("draft")),
        head_sha=head_sha,
        mergeable=pr.get("mergeable"),
        mergeable_state=pr.get("mergeable_state") or "unknown",
        labels=frozenset(label["name"] for label in pr.get("labels") or []),
        reviews=await _reviews(gh, owner, repo, number),
        checks=await _checks(gh, owner, repo, head_sha, sources, required.names | set(required_checks)),
        required_by_branch=frozenset(required.names),
        required_approvals=required.approvals,
        protection_readable=required.protection_readable,
        validated_sha=validated_sha,
        merge_command_sha=state.merge_requested_sha if state.merge_requested_by is not None else None,
        automerge_label_sha=state.automerge_sha,
        automerge_label_by_writer=await _labelled_by_writer(gh, owner, repo, pr, permission_of),
        native_auto_merge_sha=state.native_auto_merge_sha,
        native_auto_merge_on=pr.get("auto_merge") is not None,
    )
