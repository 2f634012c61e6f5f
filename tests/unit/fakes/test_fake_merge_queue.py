"""The fake GitHub's merge queue: enqueuePullRequest / dequeuePullRequest over GraphQL, refused like GitHub
refuses them, schema errors as violations, and the "merge_queue" rule on REST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.github_state import Pull
from tests.unit.fakes.support import REPO, Setup, independent_check

ENQUEUE = """
mutation Enqueue($id: ID!, $head: GitObjectID, $jump: Boolean) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $head, jump: $jump}) {
    __typename
    mergeQueueEntry {
      id position state jump solo enqueuedAt
      enqueuer { login }
      headCommit { oid }
      pullRequest { number isInMergeQueue isMergeQueueEnabled }
    }
  }
}
"""
DEQUEUE = """
mutation Dequeue($id: ID!) {
  dequeuePullRequest(input: {id: $id, clientMutationId: "mq-1"}) {
    clientMutationId
    mergeQueueEntry { id position pullRequest { number isInMergeQueue mergeQueueEntry { id } } }
  }
}
"""


async def _graphql(gh: Setup, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    response = await gh.client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def _enqueue(gh: Setup, pull: Pull, **variables: Any) -> dict[str, Any]:
    return await _graphql(gh, ENQUEUE, {"id": pull.node_id, **variables})


async def test_enqueue_answers_an_entry_with_its_position(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    first, second = gh.fake.add_pull(REPO, number=30), gh.fake.add_pull(REPO, number=31)
    answer = (await _enqueue(gh, first, head=first.head_sha))["data"]["enqueuePullRequest"]
    assert answer["__typename"] == "EnqueuePullRequestPayload"
    entry = answer["mergeQueueEntry"]
    assert (entry["position"], entry["state"], entry["jump"], entry["solo"]) == (1, "QUEUED", False, False)
    assert entry["enqueuer"] == {"login": f"{gh.fake.app_slug}[bot]"}
    assert entry["headCommit"] == {"oid": first.head_sha}
    assert entry["pullRequest"] == {"number": 30, "isInMergeQueue": True, "isMergeQueueEnabled": True}
    assert entry["enqueuedAt"].endswith("Z")
    later = (await _enqueue(gh, second))["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    assert later["position"] == 2
    assert later["id"] != entry["id"]
    assert gh.fake.queued(REPO) == [30, 31]
    assert gh.fake.calls("graphql/enqueuePullRequest")[0].json["variables"]["id"] == first.node_id


async def test_enqueue_again_answers_the_same_entry_and_jump_goes_first(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    first, urgent = gh.fake.add_pull(REPO, number=32), gh.fake.add_pull(REPO, number=33)
    entry = (await _enqueue(gh, first))["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    again = (await _enqueue(gh, first))["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    assert (again["id"], again["position"]) == (entry["id"], 1)
    jumped = (await _enqueue(gh, urgent, jump=True))["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    assert (jumped["position"], jumped["jump"]) == (1, True)
    assert gh.fake.queued(REPO) == [33, 32]
    assert first.queue_entry is not None and first.queue_entry["position"] == 2


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ({"base_ref": "develop"}, "Merge queue is not enabled"),
        ({"state": "closed"}, "closed"),
        ({"draft": True}, "draft"),
        ({"head": "0" * 40}, "expected head sha"),
    ],
)
async def test_enqueue_refusals_are_errors_and_queue_nothing(gh: Setup, setup: dict[str, Any], needle: str) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    head = setup.pop("head", None)
    pull = gh.fake.add_pull(REPO, number=34, **setup)
    body = await _enqueue(gh, pull, head=head)
    assert body["data"] == {"enqueuePullRequest": None}
    (error,) = body["errors"]
    assert error["type"] == "UNPROCESSABLE"
    assert error["path"] == ["enqueuePullRequest"]
    assert needle in error["message"]
    assert pull.queue_entry is None
    assert gh.fake.queued(REPO) == []
    assert gh.fake.violations == []


async def test_enqueue_unknown_pull_request_is_not_found(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    body = await _graphql(gh, ENQUEUE, {"id": "PR_kwDOnothing"})
    assert body["errors"][0]["type"] == "NOT_FOUND"
    assert body["data"] == {"enqueuePullRequest": None}


async def test_dequeue_removes_the_entry_and_answers_it(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    first, second = gh.fake.add_pull(REPO, number=35), gh.fake.add_pull(REPO, number=36)
    entry = (await _enqueue(gh, first))["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    await _enqueue(gh, second)
    answer = (await _graphql(gh, DEQUEUE, {"id": first.node_id}))["data"]["dequeuePullRequest"]
    assert answer["clientMutationId"] == "mq-1"
    assert answer["mergeQueueEntry"] == {
        "id": entry["id"],
        "position": 1,
        "pullRequest": {"number": 35, "isInMergeQueue": False, "mergeQueueEntry": None},
    }
    assert first.queue_entry is None
    assert gh.fake.queued(REPO) == [36]
    assert second.queue_entry is not None and second.queue_entry["position"] == 1
    again = await _graphql(gh, DEQUEUE, {"id": first.node_id})
    assert again["data"] == {"dequeuePullRequest": None}
    assert again["errors"][0]["type"] == "UNPROCESSABLE"
    assert gh.fake.queued(REPO) == [36]


@pytest.mark.parametrize(
    ("query", "variables", "needle"),
    [
        (
            "mutation($input: EnqueuePullRequestInput!) { enqueuePullRequest(input: $input) { clientMutationId } }",
            {"input": {"pullRequestId": "PR_x", "mergeMethod": "SQUASH"}},
            "mergeMethod",
        ),
        (
            'mutation { dequeuePullRequest(input: {pullRequestId: "PR_x"}) { clientMutationId } }',
            None,
            "pullRequestId",
        ),
        (
            'mutation { enqueuePullRequest(input: {pullRequestId: "PR_x", jump: "yes"}) { clientMutationId } }',
            None,
            "jump",
        ),
        (
            'mutation { enqueuePullRequest(input: {pullRequestId: "PR_x"}) { mergeQueueEntry { priority } } }',
            None,
            "priority",
        ),
        (
            'mutation { enqueuePullRequest(input: {pullRequestId: "PR_x"}) { pullRequest { number } } }',
            None,
            "pullRequest",
        ),
    ],
)
async def test_schema_errors_are_contract_violations(
    gh: Setup, query: str, variables: dict[str, Any] | None, needle: str
) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    pull = gh.fake.add_pull(REPO, number=37, head_sha="a" * 40)
    query = query.replace("PR_x", pull.node_id)
    if variables:
        variables["input"]["pullRequestId"] = pull.node_id
    with gh.fake.allow_violations() as caught:
        response = await gh.client.post("/graphql", json={"query": query, "variables": variables})
    assert "errors" in response.json()
    assert "data" not in response.json()
    assert len(caught) == 1
    assert needle in str(caught[0])
    assert pull.queue_entry is None


async def test_rest_branch_rules_show_the_merge_queue_rule(gh: Setup) -> None:
    rule = gh.fake.require_merge_queue(REPO, "main", merge_method="SQUASH")
    gh.fake.require_merge_queue(REPO, "main", merge_method="SQUASH")  # replaces, does not add a second
    response = await gh.client.get(f"/repos/{REPO}/rules/branches/main")
    assert response.status_code == 200
    independent_check(response)
    (served,) = response.json()
    assert served["type"] == "merge_queue"
    assert served["parameters"] == rule["parameters"]
    assert served["parameters"]["merge_method"] == "SQUASH"
    assert served["ruleset_source"] == REPO
    other = await gh.client.get(f"/repos/{REPO}/rules/branches/develop")
    assert other.json() == []
    with pytest.raises(TypeError):
        gh.fake.require_merge_queue(REPO, "main", batch_size=3)
