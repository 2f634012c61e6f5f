"""GitHub's merge queue, for a base branch whose rules require one: the bot enqueues instead of merging.

When the merge decision is *merge* and the base branch's rules include a `merge_queue` rule (REST
`GET /repos/{owner}/{repo}/rules/branches/{branch}`, GitHub's repository-rule type `merge_queue`), `PUT
/merge` is refused by GitHub anyway; the bot asks for the queue instead with GraphQL `enqueuePullRequest`,
`expectedHeadOid` = the validated head, so the queue takes exactly the commit that passed (GitHub refuses
when the head moved). GitHub then builds the queue's commit, asks for the required checks on it
(`merge_group`, validated by handlers/validation/merge_group.py) and merges it itself.

The enqueued head is stored (`queued_sha`): it is enqueued once per head, and `/codegen merge cancel` or
`/codegen hold` takes it out again with `dequeuePullRequest`.

Mutation and field names: GitHub's GraphQL schema (octokit/graphql-schema `schema.graphql`;
tests/fixtures/github/graphql-merge-queue.md).
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

log = logging.getLogger(__name__)

MERGE_QUEUE_RULE = "merge_queue"
ENQUEUE = """
mutation($pullRequestId: ID!, $expectedHeadOid: GitObjectID) {
  enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) {
    mergeQueueEntry { position state }
  }
}
"""
DEQUEUE = """
mutation($id: ID!) {
  dequeuePullRequest(input: {id: $id}) { mergeQueueEntry { position } }
}
"""


async def requires_queue(gh: GitHubAPI, owner: str, repo: str, branch: str) -> bool:
    """The branch's rules (rulesets, every page) require a merge queue. Unreadable rules: False (the bot
    merges as without a queue, and GitHub's refusal, if any, is said in the merge notice)."""
    try:
        async for rule in gh.getiter(
            "/repos/{owner}/{repo}/rules/branches/{branch}{?per_page}",
            {"owner": owner, "repo": repo, "branch": branch, "per_page": 100},
        ):
            if rule.get("type") == MERGE_QUEUE_RULE:
                return True
    except BadRequest as exc:
        if exc.status_code not in (403, 404):
            raise
        log.info("rules of %s/%s@%s unreadable (%s): no merge queue assumed", owner, repo, branch, exc.status_code)
    return False


async def enqueue(gh: GitHubAPI, endpoint: str, pr: dict[str, Any], sha: str) -> dict[str, Any]:
    """Put exactly `sha` of the pull request in its base branch's merge queue; the queue entry."""
    answer = await gh.graphql(ENQUEUE, endpoint=endpoint, pullRequestId=pr["node_id"], expectedHeadOid=sha)
    entry: dict[str, Any] = ((answer or {}).get("enqueuePullRequest") or {}).get("mergeQueueEntry") or {}
    return entry


async def dequeue(gh: GitHubAPI, endpoint: str, pr: dict[str, Any]) -> None:
    await gh.graphql(DEQUEUE, endpoint=endpoint, id=pr["node_id"])
