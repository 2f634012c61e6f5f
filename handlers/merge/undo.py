"""Withdrawing a merge request: `/codegen merge cancel` (or `unmerge`), `/codegen hold`, the hold label.

`withdraw` takes back everything that could still merge the pull request without a new request, and says
what it took back:
- the stored `/codegen merge` request and the `codegen: automerge` label (removed from the PR);
- GitHub's auto-merge, when it is on (`disablePullRequestAutoMerge`); the head stays marked as tried, so
  the bot does not enable it again for this head;
- the merge-queue entry the bot made (`dequeuePullRequest`).
With `hold`, the `codegen: hold` label is added: every merge path (a command, the label, `merge.auto_merge`,
GitHub's auto-merge, the queue) is blocked until someone removes it. The label added by hand does the same:
its `labeled` event withdraws GitHub's auto-merge and the queue entry, which GitHub would otherwise go on
with.

Under `merge.auto_merge: true` the config itself asks for the merge: `merge cancel` withdraws what is under
way and the reply says that the next passing evaluation merges again unless the PR is held.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gidgethub import GraphQLException
from gidgethub.abc import GitHubAPI

from bot.store.pull_requests import PullRequestStore
from handlers.merge import queue
from handlers.merge.decide import AUTOMERGE_LABEL, HOLD_LABEL
from handlers.merge.native import DISABLE, graphql_message, rate_limited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal took back (pure data for the reply)."""

    request_by: str | None = None
    label: bool = False
    native: bool = False
    queue: bool = False
    held: bool = False
    #: GitHub refused to take something back: its words
    failures: tuple[str, ...] = ()

    @property
    def anything(self) -> bool:
        return bool(self.request_by or self.label or self.native or self.queue)


def _labels(pr: dict[str, Any]) -> set[str]:
    return {label.get("name", "") for label in pr.get("labels") or []}


async def _graphql(gh: GitHubAPI, endpoint: str, query: str, **variables: Any) -> str | None:
    """Send a mutation; GitHub's refusal in its own words (None when it was done)."""
    try:
        await gh.graphql(query, endpoint=endpoint, **variables)
    except GraphQLException as exc:
        if rate_limited(exc):
            raise
        return graphql_message(exc)
    return None


async def withdraw(gh: GitHubAPI, prs: PullRequestStore, endpoint: str, repo: str, pr: dict[str, Any], *,
                   hold: bool, keep_request: bool = False) -> Withdrawal:
    """Take back every pending merge of `pr` (see the module's docstring); `keep_request` leaves the stored
    request and the automerge label (the hold label was added by hand: removing it lets them count again)."""
    owner, name = repo.split("/", 1)
    number = int(pr["number"])
    state = await prs.get(repo, number)
    labels, failures = _labels(pr), []
    request_by = None if keep_request else state.merge_requested_by
    label = not keep_request and AUTOMERGE_LABEL in labels
    if not keep_request and (request_by or state.automerge_sha):
        await prs.set(repo, number, merge_requested_by=None, merge_requested_sha=None, automerge_sha=None)
    if label:
        await gh.delete("/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
                        {"owner": owner, "repo": name, "issue_number": number, "name": AUTOMERGE_LABEL})
    native = pr.get("auto_merge") is not None
    if native:
        refused = await _graphql(gh, endpoint, DISABLE, pullRequestId=pr["node_id"])
        native = refused is None
        failures += [f"GitHub's auto-merge stays on ({refused})"] if refused else []
        # tried for this head: not enabled again for it (a push brings a new head and a new decision)
        await prs.set(repo, number, native_auto_merge_sha=pr["head"]["sha"])
    queued = state.queued_sha is not None
    if queued:
        refused = await _graphql(gh, endpoint, queue.DEQUEUE, id=pr["node_id"])
        queued = refused is None or "not in the merge queue" in refused.lower()
        failures += [f"the merge-queue entry stays ({refused})"] if not queued and refused else []
        if queued:
            await prs.set(repo, number, queued_sha=None)
    held = hold and HOLD_LABEL not in labels
    if held:
        await gh.post("/repos/{owner}/{repo}/issues/{issue_number}/labels",
                      {"owner": owner, "repo": name, "issue_number": number}, data={"labels": [HOLD_LABEL]})
    return Withdrawal(request_by, label, native, queued, held or (hold and HOLD_LABEL in labels), tuple(failures))
