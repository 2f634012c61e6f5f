"""The fake GitHub's GraphQL endpoint: auto-merge on and off, domain refusals as errors, schema errors as
violations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.fakes.support import REPO, Setup

ENABLE = """
mutation Enable($id: ID!, $method: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}
"""


async def test_graphql_auto_merge_enable_and_disable(gh: Setup) -> None:
    pull = gh.fake.add_pull(REPO, number=20, mergeable_state="blocked")
    response = await gh.client.post(
        "/graphql", json={"query": ENABLE, "variables": {"id": pull.node_id, "method": "SQUASH"}}
    )
    data = response.json()["data"]["enablePullRequestAutoMerge"]["pullRequest"]
    assert data == {
        "number": 20,
        "autoMergeRequest": {"mergeMethod": "SQUASH", "enabledBy": {"login": f"{gh.fake.app_slug}[bot]"}},
    }
    rest = (await gh.client.get(f"/repos/{REPO}/pulls/20")).json()
    assert rest["auto_merge"]["merge_method"] == "squash"
    assert gh.fake.calls("graphql/enablePullRequestAutoMerge")[0].json["variables"]["method"] == "SQUASH"
    disable = (
        "mutation($id: ID!) { disablePullRequestAutoMerge(input: {pullRequestId: $id}) { clientMutationId } }"
    )
    await gh.client.post("/graphql", json={"query": disable, "variables": {"id": pull.node_id}})
    assert pull.auto_merge is None


async def test_graphql_domain_refusal_is_an_error_not_a_violation(gh: Setup) -> None:
    clean = gh.fake.add_pull(REPO, number=21)  # mergeable now: GitHub refuses auto-merge
    response = await gh.client.post("/graphql", json={"query": ENABLE, "variables": {"id": clean.node_id}})
    assert response.status_code == 200
    assert "clean status" in response.json()["errors"][0]["message"]
    assert clean.auto_merge is None


@pytest.mark.parametrize(
    ("query", "variables", "needle"),
    [
        (
            "mutation($input: EnablePullRequestAutoMergeInput!) { enablePullRequestAutoMerge(input: $input) "
            "{ clientMutationId } }",
            {"input": {"pullRequestId": "PR_x", "mergeStrategy": "SQUASH"}},
            "mergeStrategy",
        ),
        (
            ENABLE.replace("$method: PullRequestMergeMethod", "$method: String"),
            {"id": "PR_x", "method": "SQUASH"},
            "String",
        ),
        (
            'mutation { enablePullRequestAutoMerge(input: {pullRequestId: "PR_x", mergeMethod: FAST}) '
            "{ clientMutationId } }",
            None,
            "mergeMethod",
        ),
        (
            "mutation { enablePullRequestAutoMerge(input: {mergeMethod: MERGE}) { clientMutationId } }",
            None,
            "required",
        ),
        (
            'mutation { mergePullRequest(input: {pullRequestId: "PR_x"}) { clientMutationId } }',
            None,
            "mergePullRequest",
        ),
        ("query { viewer { login } }", None, "query"),
    ],
)
async def test_graphql_rejects_what_the_schema_forbids(
    gh: Setup, query: str, variables: dict[str, Any] | None, needle: str
) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.post("/graphql", json={"query": query, "variables": variables})
    assert "errors" in response.json()
    assert "data" not in response.json()
    assert len(caught) == 1
    assert needle in str(caught[0])
