"""The fake GitHub's rate budget like GitHub's: ETags and 304s that cost nothing, a budget per caller,
secondary limits with and without Retry-After (403 and 429), request counts per installation."""

from __future__ import annotations

import pytest

from tests.fakes.github import SPEC_PATH
from tests.fakes.github_limits import etag_matches
from tests.fakes.openapi_check import ContractViolation, OpenAPIChecker
from tests.unit.fakes.support import REPO, Setup, independent_check


async def test_a_get_has_an_etag_and_a_matching_if_none_match_is_answered_304_for_free(gh: Setup) -> None:
    first = await gh.client.get(f"/repos/{REPO}")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and len(etag) == len('W/""') + 64
    left = gh.fake.rate_remaining(gh.installation_id)
    assert left == int(first.headers["x-ratelimit-remaining"])
    for validator in (etag, etag.removeprefix("W/"), f'"nope", {etag}', "*"):
        again = await gh.client.get(f"/repos/{REPO}", headers={"If-None-Match": validator})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
        assert int(again.headers["x-ratelimit-remaining"]) == left  # a 304 uses none of the budget
        independent_check(again)
    assert gh.fake.rate_remaining(gh.installation_id) == left
    assert gh.fake.request_count(gh.installation_id) == 5
    assert gh.fake.request_count(gh.installation_id, exclude_304=True) == 1


async def test_a_stale_etag_gets_the_new_answer(gh: Setup) -> None:
    first = await gh.client.get(f"/repos/{REPO}")
    gh.fake.repo(REPO).archived = True
    changed = await gh.client.get(f"/repos/{REPO}", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.json()["archived"] is True
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert int(changed.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1


async def test_writes_get_no_etag_and_no_304(gh: Setup) -> None:
    gh.fake.add_issue(REPO, number=1)
    url = f"/repos/{REPO}/issues/1/comments"
    created = await gh.client.post(url, json={"body": "x"}, headers={"If-None-Match": "*"})
    assert created.status_code == 201 and "ETag" not in created.headers


def test_etag_matching() -> None:
    assert etag_matches('W/"a"', 'W/"a"') and etag_matches('"a"', 'W/"a"') and etag_matches('"b", W/"a"', 'W/"a"')
    assert not etag_matches('W/"b"', 'W/"a"') and not etag_matches(None, 'W/"a"') and not etag_matches("", 'W/"a"')


def test_the_contract_allows_a_304_to_any_get_but_without_a_body() -> None:
    checker = OpenAPIChecker(SPEC_PATH)
    args = ("GET", "/repos/o/r/commits/abc/check-runs", {}, b"")  # does not list 304, like most
    checker.check_response(*args, 304, {"ETag": 'W/"x"'}, b"")
    with pytest.raises(ContractViolation) as body:
        checker.check_response(*args, 304, {"Content-Type": "application/json"}, b'{"a": 1}')
    assert body.value.kind == "response-body"
    with pytest.raises(ContractViolation) as post:
        checker.check_response("POST", "/repos/o/r/check-runs", {}, b"", 304, {}, b"")
    assert post.value.kind == "status"


async def test_each_installation_has_its_own_budget(gh: Setup) -> None:
    other = gh.fake.add_installation("octo-org-2", [])
    gh.fake.add_repo(REPO, installation_id=other.id)
    headers = {"Authorization": f"token {gh.fake.issue_token(other.id)}"}
    for _ in range(3):
        await gh.client.get(f"/repos/{REPO}/pulls")
    theirs = await gh.client.get(f"/repos/{REPO}/pulls", headers=headers)
    assert theirs.headers["x-ratelimit-remaining"] == "4999"
    assert gh.fake.rate_remaining(gh.installation_id) == 4997
    assert gh.fake.rate_remaining(other.id) == 4999
    assert gh.fake.request_count(other.id) == 1 and gh.fake.request_count(gh.installation_id) == 3
    assert gh.fake.request_count() == 4 and gh.fake.request_count(methods={"post"}) == 0
    assert gh.fake.request_count(gh.installation_id, methods=["GET"]) == 3


@pytest.mark.parametrize("status", [403, 429])
async def test_a_secondary_limit_without_retry_after(gh: Setup, status: int) -> None:
    gh.fake.fail_secondary_rate_limit("GET", "repos/get", retry_after=None, status=status)
    limited = await gh.client.get(f"/repos/{REPO}")
    assert limited.status_code == status and "Retry-After" not in limited.headers
    assert limited.headers.get("x-ratelimit-remaining") != "0"
    assert "secondary rate limit" in limited.json()["message"]
    assert (await gh.client.get(f"/repos/{REPO}")).status_code == 200


async def test_graphql_faults_can_be_scripted(gh: Setup) -> None:
    gh.fake.fail_secondary_rate_limit("POST", "/graphql", retry_after=3)
    limited = await gh.client.post("/graphql", json={"query": "mutation { x }"})
    assert (limited.status_code, limited.headers["Retry-After"]) == (403, "3")
    assert gh.fake.requests[-1].status == 403
