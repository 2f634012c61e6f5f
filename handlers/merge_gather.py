"""Gather a pull request's merge snapshot from GitHub (the I/O half of the merge decision)."""

from __future__ import annotations

from typing import Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.pull_requests import PullRequestState
from handlers.rules.merge import CheckResult, PullSnapshot, Review

#: commit-status states → check conclusions (pending is "not finished")
_STATUS = {"success": "success", "failure": "failure", "error": "failure", "pending": None}


async def _required_by_branch(gh: GitHubAPI, owner: str, repo: str, branch: str) -> set[str]:
    names: set[str] = set()
    try:
        protection = await gh.getitem(
            "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks",
            {"owner": owner, "repo": repo, "branch": branch},
        )
        names.update(protection.get("contexts") or [])
        names.update(c["context"] for c in protection.get("checks") or [] if c.get("context"))
    except BadRequest as exc:
        if exc.status_code not in (403, 404):  # 404: not protected; 403: plan without protection
            raise
    try:
        rules = await gh.getitem(
            "/repos/{owner}/{repo}/rules/branches/{branch}", {"owner": owner, "repo": repo, "branch": branch}
        )
    except BadRequest as exc:
        if exc.status_code not in (403, 404):
            raise
        rules = []
    for rule in rules or []:
        if rule.get("type") == "required_status_checks":
            for check in (rule.get("parameters") or {}).get("required_status_checks") or []:
                if check.get("context"):
                    names.add(check["context"])
    return names


async def _checks(gh: GitHubAPI, owner: str, repo: str, sha: str) -> dict[str, CheckResult]:
    latest: dict[str, tuple[int, CheckResult]] = {}
    async for run in gh.getiter(
        "/repos/{owner}/{repo}/commits/{ref}/check-runs{?per_page}",
        {"owner": owner, "repo": repo, "ref": sha, "per_page": 100},
        iterable_key="check_runs",
    ):
        conclusion = run.get("conclusion") if run.get("status") == "completed" else None
        if run["name"] not in latest or run["id"] > latest[run["name"]][0]:
            latest[run["name"]] = (int(run["id"]), CheckResult(run["name"], conclusion))
    checks = {name: result for name, (_, result) in latest.items()}
    combined = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}/status", {"owner": owner, "repo": repo, "ref": sha}
    )
    for status in combined.get("statuses") or []:
        context = status.get("context")
        if context and context not in checks:
            checks[context] = CheckResult(context, _STATUS.get(status.get("state", "pending")))
    return checks


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


async def gather(
    gh: GitHubAPI, owner: str, repo: str, number: int, *, state: PullRequestState, validated_sha: str | None
) -> tuple[PullSnapshot, dict[str, Any]]:
    """The snapshot the decision needs, and the raw PR (its node id, branches, head repository)."""
    pr: dict[str, Any] = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{pull_number}", {"owner": owner, "repo": repo, "pull_number": number}
    )
    head_sha = pr["head"]["sha"]
    snapshot = PullSnapshot(
        number=number,
        open=pr.get("state") == "open",
        merged=bool(pr.get("merged")),
        draft=bool(pr.get("draft")),
        head_sha=head_sha,
        mergeable=pr.get("mergeable"),
        mergeable_state=pr.get("mergeable_state") or "unknown",
        labels=frozenset(label["name"] for label in pr.get("labels") or []),
        reviews=await _reviews(gh, owner, repo, number),
        checks=await _checks(gh, owner, repo, head_sha),
        required_by_branch=frozenset(await _required_by_branch(gh, owner, repo, pr["base"]["ref"])),
        validated_sha=validated_sha,
        merge_command=state.merge_requested_by is not None,
    )
    return snapshot, pr
