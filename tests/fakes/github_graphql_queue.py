"""The fake GitHub's merge queue: GraphQL `enqueuePullRequest` and `dequeuePullRequest` (github_graphql.py
parses, checks and shapes; this module holds their schema tables and what they do to the world).

Names and types are those of tests/fixtures/github/graphql-merge-queue.md (GitHub's schema.graphql).

Behaviour, and where it comes from:
- A branch requires a merge queue when its rules (FakeGitHub.set_branch_rules / require_merge_queue,
  served by REST GET /repos/{owner}/{repo}/rules/branches/{branch}) hold a rule of type "merge_queue"
  (the `repository-rule-merge-queue` schema of tests/fixtures/github/rest-subset.json; GitHub docs
  "Managing a merge queue": the queue is a branch protection / ruleset requirement).
- enqueuePullRequest is refused (an `errors` answer, type UNPROCESSABLE) for a closed or merged pull
  request, a draft, a base branch without a merge queue, and an `expectedHeadOid` that is not the head
  (schema: "The expected head OID of the pull request"). It does not depend on the repository's
  "Allow auto-merge" (only enablePullRequestAutoMerge does). The messages are the fake's own wording in
  GitHub's "Pull request <reason>" style; rely on `errors` and `type`, not on the text.
- A new entry is QUEUED (MergeQueueEntryState) at position 1 + the entries already queued for the same
  base branch of the repository; `jump: true` puts it first ("Add the pull request to the front of the
  queue") and moves the others back. `enqueuer` is the caller, `enqueuedAt` the world's clock,
  `headCommit` the pull request's head, `baseCommit` the base branch's head at enqueue time.
- Decision (GitHub's behaviour not found in public material): enqueueing a pull request that is already
  queued answers its existing entry unchanged (idempotent), not an error.
- dequeuePullRequest takes `id`, the pull request's node id (schema: "The ID of the pull request to be
  dequeued"; not the MergeQueueEntry's id, which the fake does not resolve). It answers the removed
  entry as it was and moves the entries behind it forward. A pull request not in the queue is refused
  with UNPROCESSABLE "Failed to remove PR #N from the merge queue..." (the prefix as GitHub's was
  reported publicly; the rest is the fake's).
- A pull request leaves the queue when it is merged (REST `PUT /merge`), closed (FakeGitHub.close_pull) or
  its head changes (REST `update-branch`): `leave_queue`, and the entries behind it move forward.
- Not modelled: the queue never merges, builds merge groups or changes state by itself.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github_bodies import iso
from tests.fakes.github_state import Pull, Repo, World

__all__ = [
    "FIELDS",
    "INPUTS",
    "PULL_FIELDS",
    "commit_value",
    "entry_value",
    "leave_queue",
    "merge_queue_value",
    "queue_refusal",
    "queued_pulls",
    "requires_queue",
    "run",
]

MERGE_QUEUE_RULE = "merge_queue"
INPUTS: dict[str, dict[str, tuple[str, bool]]] = {
    "enqueuePullRequest": {
        "pullRequestId": ("ID", True),
        "expectedHeadOid": ("GitObjectID", False),
        "jump": ("Boolean", False),
        "clientMutationId": ("String", False),
    },
    "dequeuePullRequest": {
        "id": ("ID", True),
        "clientMutationId": ("String", False),
    },
}
_PAYLOAD = {"clientMutationId": None, "mergeQueueEntry": "MergeQueueEntry"}
FIELDS: dict[str, dict[str, str | None]] = {
    "EnqueuePullRequestPayload": dict(_PAYLOAD),
    "DequeuePullRequestPayload": dict(_PAYLOAD),
    "MergeQueueEntry": {
        "baseCommit": "Commit",
        "enqueuedAt": None,
        "enqueuer": "Actor",
        "estimatedTimeToMerge": None,
        "headCommit": "Commit",
        "id": None,
        "jump": None,
        "mergeQueue": "MergeQueue",
        "position": None,
        "pullRequest": "PullRequest",
        "solo": None,
        "state": None,
    },
    "Commit": {"abbreviatedOid": None, "oid": None, "url": None},
    "MergeQueue": {"id": None, "nextEntryEstimatedTimeToMerge": None, "resourcePath": None, "url": None},
}
#: PullRequest fields about the queue (schema: isInMergeQueue, isMergeQueueEnabled, mergeQueueEntry)
PULL_FIELDS: dict[str, str | None] = {
    "isInMergeQueue": None,
    "isMergeQueueEnabled": None,
    "mergeQueueEntry": "MergeQueueEntry",
}


def requires_queue(repo: Repo, branch: str) -> bool:
    """Whether the branch's rules include a "merge_queue" rule."""
    return any(rule.get("type") == MERGE_QUEUE_RULE for rule in repo.rules.get(branch, []))


def queued_pulls(repo: Repo, branch: str | None = None) -> list[Pull]:
    """The repository's queued pull requests (of one base branch, or all), by base branch and position."""
    pulls = [p for p in repo.pulls.values() if p.queue_entry and branch in (None, p.base_ref)]
    return sorted(pulls, key=lambda p: (p.base_ref, p.queue_entry["position"] if p.queue_entry else 0))


def queue_refusal(repo: Repo, pull: Pull, data: dict[str, Any]) -> str | None:
    """Why GitHub refuses to put this pull request in the merge queue, if it does."""
    if pull.state != "open" or pull.merged:
        return "Pull request Pull request is closed"
    if pull.draft:
        return "Pull request Pull request is in draft state"
    if not requires_queue(repo, pull.base_ref):
        return f"Pull request Merge queue is not enabled for the base branch '{pull.base_ref}'"
    if data.get("expectedHeadOid") not in (None, pull.head_sha):
        return "Pull request Head sha didn't match expected head sha"
    return None


def _enqueue(world: World, repo: Repo, pull: Pull, data: dict[str, Any], actor: str) -> dict[str, Any]:
    if pull.queue_entry is not None:
        return pull.queue_entry
    ahead = queued_pulls(repo, pull.base_ref)
    jump = bool(data.get("jump"))
    if jump:
        for other in ahead:
            assert other.queue_entry is not None
            other.queue_entry["position"] += 1
    pull.queue_entry = {
        "id": f"MQE_kwDO{world.ids.next_id():08d}",
        "position": 1 if jump else len(ahead) + 1,
        "state": "QUEUED",
        "enqueued_at": world.clock(),
        "enqueuer": {"login": actor},
        "jump": jump,
        "solo": False,
        "head_oid": pull.head_sha,
        "base_oid": repo.branches.get(pull.base_ref, pull.base_sha),
        "base_ref": pull.base_ref,
    }
    return pull.queue_entry


def _dequeue(repo: Repo, pull: Pull) -> dict[str, Any]:
    entry = pull.queue_entry
    assert entry is not None
    pull.queue_entry = None
    for other in queued_pulls(repo, pull.base_ref):
        assert other.queue_entry is not None
        if other.queue_entry["position"] > entry["position"]:
            other.queue_entry["position"] -= 1
    return entry


def leave_queue(repo: Repo, pull: Pull) -> None:
    """The pull request is out of its merge queue, if it was in one; the entries behind it move forward."""
    if pull.queue_entry is not None:
        _dequeue(repo, pull)


def run(
    mutation: str, world: World, repo: Repo, pull: Pull, data: dict[str, Any], actor: str
) -> dict[str, Any] | str:
    """The entry the mutation answers, or why GitHub refuses it (an UNPROCESSABLE error message)."""
    if mutation == "enqueuePullRequest":
        return queue_refusal(repo, pull, data) or _enqueue(world, repo, pull, data, actor)
    if pull.queue_entry is None:
        return f"Failed to remove PR #{pull.number} from the merge queue: it is not in the queue"
    return _dequeue(repo, pull)


def entry_value(field: str, entry: dict[str, Any], repo: Repo, pull: Pull) -> Any:
    """The raw value of a MergeQueueEntry field (objects as dicts or the Pull, for the caller to shape)."""
    commit = entry["head_oid"] if field == "headCommit" else entry["base_oid"]
    branch = entry["base_ref"]
    values = {
        "baseCommit": commit,
        "headCommit": commit,
        "enqueuedAt": iso(entry["enqueued_at"]),
        "enqueuer": entry["enqueuer"],
        "estimatedTimeToMerge": None,
        "id": entry["id"],
        "jump": entry["jump"],
        "mergeQueue": {"repo": repo.full_name, "branch": branch},
        "position": entry["position"],
        "pullRequest": pull,
        "solo": entry["solo"],
        "state": entry["state"],
    }
    return values[field]


def commit_value(field: str, oid: str, repo: Repo) -> Any:
    """A Commit field of the commit `oid`."""
    return {
        "abbreviatedOid": oid[:7],
        "oid": oid,
        "url": f"https://github.com/{repo.full_name}/commit/{oid}",
    }[field]


def merge_queue_value(field: str, queue: dict[str, str]) -> Any:
    """A MergeQueue field of the queue of (repo, branch); its URL is the web page of the queue."""
    path = f"/{queue['repo']}/queue/{queue['branch']}"
    return {
        "id": f"MQ_{queue['repo']}:{queue['branch']}",
        "nextEntryEstimatedTimeToMerge": None,
        "resourcePath": path,
        "url": f"https://github.com{path}",
    }[field]
