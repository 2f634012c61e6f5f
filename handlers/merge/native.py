"""GitHub's own auto-merge (`merge.use_github_auto_merge`): enable it for exactly one head, turn it off on push.

GitHub's `enablePullRequestAutoMerge` (GraphQL) merges the PR when every rule GitHub enforces passes. It
refuses a PR that is already mergeable ("Pull request is in clean status") and a repository whose
"Allow auto-merge" setting is off (https://docs.github.com/en/graphql/reference/mutations#enablepullrequestautomerge,
https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/incorporating-changes-from-a-pull-request/automatically-merging-a-pull-request).
So the decision (decide.py) asks for it while the answer is still *wait*, for a head our validation passed,
and only when everything left is enforced by GitHub. Here:

- `enable`: the mutation with `expectedHeadOid` = that head. Enabled or refused, the head is recorded
  (`native_auto_merge_sha`) so it is tried once per head and said once. Refused because the PR is already
  clean: the PR is evaluated again at once, and merges with `PUT /merge` (the fallback). Refused for any other
  reason (the setting is off, a permission): GitHub's message is said once, and the bot merges itself when
  every check passes, as without the setting.
- `disable_on_push`: GitHub keeps auto-merge on when someone with write access pushes, and would then merge
  a head nobody validated; a push turns it off (`disablePullRequestAutoMerge`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gidgethub import GraphQLException
from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.store.pull_requests import PullRequestStore
from handlers.merge import texts
from handlers.merge.decide import EnableAutoMerge
from handlers.merge.notices import MergeNotices

log = logging.getLogger(__name__)

GRAPHQL_METHOD = {"merge": "MERGE", "squash": "SQUASH", "rebase": "REBASE"}
ENABLE = """
mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod, $expectedHeadOid: GitObjectID) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod,
                                     expectedHeadOid: $expectedHeadOid}) {
    pullRequest { number autoMergeRequest { enabledAt mergeMethod } }
  }
}
"""
DISABLE = """
mutation($pullRequestId: ID!) {
  disablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId}) { pullRequest { number } }
}
"""
CLEAN_STATUS = "clean status"


def rate_limited(exc: GraphQLException) -> bool:
    """GraphQL's own rate limit comes as errors of type RATE_LIMITED in a 200 answer
    (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api)."""
    errors = (exc.response or {}).get("errors") or []
    return any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors)


def graphql_message(exc: GraphQLException) -> str:
    """GitHub's own words from a GraphQL error answer."""
    errors = (exc.response or {}).get("errors") or []
    return "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict)) or str(exc)


@dataclass
class NativeAutoMerge:
    prs: PullRequestStore
    graphql_endpoint: str
    notices: MergeNotices

    async def enable(self, gh: GitHubAPI, repo: str, pr: dict[str, Any], decision: EnableAutoMerge) -> bool:
        """Enable GitHub's auto-merge for `decision.sha`; True when GitHub answered the PR is already clean
        (the caller evaluates again and merges itself)."""
        number = int(pr["number"])
        try:
            await gh.graphql(ENABLE, endpoint=self.graphql_endpoint, pullRequestId=pr["node_id"],
                             mergeMethod=GRAPHQL_METHOD[decision.method], expectedHeadOid=decision.sha)
        except GraphQLException as exc:
            if rate_limited(exc):
                raise  # not an answer about this PR: the job is tried again later
            await self.prs.set(repo, number, native_auto_merge_sha=decision.sha)  # tried once per head
            message = graphql_message(exc)
            if CLEAN_STATUS in message.lower():
                log.info("auto-merge refused for %s#%d: already clean; merging directly", repo, number)
                return True
            await self.notices.say(gh, repo, number, texts.auto_merge_refused(decision.sha, message))
            return False
        await self.prs.set(repo, number, native_auto_merge_sha=decision.sha)
        await self.notices.say(gh, repo, number, texts.auto_merge_enabled(decision))
        return False

    async def disable_on_push(self, gh: GitHubAPI, repo: str, pr: dict[str, Any]) -> None:
        """A new head: GitHub's auto-merge, enabled for an older one, is turned off."""
        number = int(pr["number"])
        state = await self.prs.get(repo, number)
        if state.native_auto_merge_sha in (None, pr["head"]["sha"]):
            return
        await self.prs.set(repo, number, native_auto_merge_sha=None)
        if pr.get("auto_merge") is None:
            return
        try:
            await gh.graphql(DISABLE, endpoint=self.graphql_endpoint, pullRequestId=pr["node_id"])
        except GraphQLException as exc:
            log.warning("could not turn GitHub's auto-merge off for %s#%d: %s", repo, number, graphql_message(exc))
            return
        owner, name = repo.split("/", 1)
        await comments.post(gh, owner, name, number, texts.auto_merge_disabled(state.native_auto_merge_sha or "",
                                                                               pr["head"]["sha"]))
