"""Auto-merge: evaluate a pull request (debounced), then merge exactly the validated head SHA.

Every event that can change the answer schedules a `merge.evaluate` job for the PR, keyed by the PR and
delayed by `DEBOUNCE` seconds: a burst of events (several checks completing together) costs one
evaluation. The job gathers a snapshot (handlers/merge_gather.py), asks the pure decision
(handlers/rules/merge.py), and performs the effect:

- Merge: `PUT /repos/{o}/{r}/pulls/{n}/merge` with `sha` = the head SHA the decision saw and the
  configured method. GitHub answers 409 when the head moved meanwhile and 405 when the PR is not
  mergeable: both are reported in one comment and never retried blindly (a new push brings a new
  validation and a new evaluation). After a merge: a short comment (what was validated, which checks,
  the merge commit) and, with `merge.delete_branch`, the head branch is deleted when it lives in this
  repository. With `merge.use_github_auto_merge`, GitHub's own auto-merge is enabled instead (GraphQL
  `enablePullRequestAutoMerge` with `expectedHeadOid` = that SHA).
- Blocked, when a merge was asked for: one comment saying why; the same reasons are not repeated.
- Wait / not asked: nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gidgethub import BadRequest, GitHubException
from gidgethub.abc import GitHubAPI

from bot import issue_comments
from bot.context import Context
from bot.jobs import Job, JobQueue
from bot.pull_requests import PullRequestStore
from bot.validations import ValidationStore
from handlers.merge_gather import gather
from handlers.rules.merge import Blocked, Merge, MergeDecision, MergePolicy, NotAsked, Wait, decide_merge

log = logging.getLogger(__name__)

JOB = "merge.evaluate"
DEBOUNCE = 1.0
_GRAPHQL_METHOD = {"merge": "MERGE", "squash": "SQUASH", "rebase": "REBASE"}
ENABLE_AUTO_MERGE = """
mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod, $expectedHeadOid: GitObjectID) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod,
                                     expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}
"""


def graphql_url(api_url: str) -> str:
    """GitHub.com: https://api.github.com/graphql; Enterprise Server: https://HOST/api/graphql."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return f"{api_url}/graphql"


def describe(decision: MergeDecision) -> str:
    if isinstance(decision, Blocked):
        return "This pull request will not merge: " + "; ".join(decision.reasons) + "."
    if isinstance(decision, Wait):
        return "Ready to merge once these arrive: " + "; ".join(decision.waiting_for) + "."
    if isinstance(decision, Merge):
        return f"Every required check passed on `{decision.sha[:12]}`; merging."
    return decision.reason


@dataclass
class Merges:
    ctx: Context
    jobs: JobQueue
    prs: PullRequestStore
    validations: ValidationStore

    def register(self) -> None:
        self.jobs.register(JOB, self.run_job, concurrency=4, max_attempts=3)

    async def schedule(self, repo: str, number: int, installation_id: int, delay: float = DEBOUNCE) -> None:
        await self.jobs.enqueue(
            JOB,
            {"repo": repo, "number": number, "installation_id": installation_id},
            key=f"merge:{repo}#{number}",
            delay=delay,
        )

    async def evaluate(self, gh: GitHubAPI, repo: str, number: int) -> tuple[MergeDecision, dict[str, Any] | None]:
        owner, name = repo.split("/", 1)
        state = await self.prs.get(repo, number)
        pr_head = await gh.getitem(
            "/repos/{owner}/{repo}/pulls/{pull_number}", {"owner": owner, "repo": name, "pull_number": number}
        )
        base_ref = pr_head["base"]["ref"]
        loaded = await self.ctx.config.load(owner, name, base_ref)
        if loaded.config is None:
            return Blocked(("`.github/codegen.yml` at the base branch is invalid",)), None
        merge = loaded.config.merge
        passed = await self.validations.latest_for_sha(repo, pr_head["head"]["sha"])
        validated = passed.head_sha if passed is not None and passed.passed else None
        snapshot, pr = await gather(gh, owner, name, number, state=state, validated_sha=validated)
        policy = MergePolicy(merge.auto_merge, merge.method, tuple(merge.required_checks))
        return decide_merge(snapshot, policy), pr

    async def run_job(self, job: Job) -> None:
        repo, number = job.payload["repo"], int(job.payload["number"])
        gh = self.ctx.github.installation(int(job.payload["installation_id"]))
        decision, pr = await self.evaluate(gh, repo, number)
        owner, name = repo.split("/", 1)
        if isinstance(decision, Merge) and pr is not None:
            await self._merge(gh, owner, name, pr, decision)
        elif isinstance(decision, Blocked) and not isinstance(decision, NotAsked):
            state = await self.prs.get(repo, number)
            asked = state.merge_requested_by is not None or any(
                label.get("name") == "codegen: automerge" for label in (pr or {}).get("labels") or []
            )
            notice = describe(decision)
            if asked and state.last_notice != notice:
                await issue_comments.post(gh, owner, name, number, notice)
                await self.prs.set(repo, number, last_notice=notice)

    async def _merge(self, gh: GitHubAPI, owner: str, repo: str, pr: dict[str, Any], decision: Merge) -> None:
        full_name, number = f"{owner}/{repo}", int(pr["number"])
        loaded = await self.ctx.config.load(owner, repo, pr["base"]["ref"])
        assert loaded.config is not None
        merge = loaded.config.merge
        checks = ", ".join(f"`{c}`" for c in decision.checks) or "none required"
        if merge.use_github_auto_merge:
            await gh.graphql(
                ENABLE_AUTO_MERGE,
                endpoint=graphql_url(self.ctx.settings.github_api_url),
                pullRequestId=pr["node_id"],
                mergeMethod=_GRAPHQL_METHOD[decision.method],
                expectedHeadOid=decision.sha,
            )
            await issue_comments.post(
                gh,
                owner,
                repo,
                number,
                f"Validated `{decision.sha[:12]}` ({checks} passed): GitHub's auto-merge is enabled for exactly"
                f" this commit ({decision.method}).",
            )
            return
        try:
            result = await gh.put(
                "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
                {"owner": owner, "repo": repo, "pull_number": number},
                data={"sha": decision.sha, "merge_method": decision.method},
            )
        except BadRequest as exc:
            if exc.status_code in (405, 409):
                why = "its head moved after validation" if exc.status_code == 409 else "GitHub says it is not mergeable"
                notice = (
                    f"Did not merge `{decision.sha[:12]}`: {why} ({exc.status_code})."
                    " A new validation follows any new push."
                )
                state = await self.prs.get(full_name, number)
                if state.last_notice != notice:
                    await issue_comments.post(gh, owner, repo, number, notice)
                    await self.prs.set(full_name, number, last_notice=notice)
                return
            raise
        merge_sha = result.get("sha", "")
        await self.prs.set(full_name, number, merged_sha=merge_sha, merge_requested_by=None)
        await issue_comments.post(
            gh,
            owner,
            repo,
            number,
            f"Merged `{decision.sha[:12]}` ({decision.method}) after validating exactly that commit:"
            f" {checks} passed. Merge commit: `{merge_sha[:12]}`.",
        )
        head_repo = (pr["head"].get("repo") or {}).get("full_name")
        if merge.delete_branch and head_repo == full_name:
            try:
                await gh.delete(
                    "/repos/{owner}/{repo}/git/refs/{ref}",
                    {"owner": owner, "repo": repo, "ref": f"heads/{pr['head']['ref']}"},
                )
            except GitHubException:
                log.warning("could not delete the merged branch %s", pr["head"]["ref"])
