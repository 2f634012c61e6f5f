"""GitHub's rate budget (issue 13, point 7): the serial write queue per installation, the one-minute wait
on a secondary limit without Retry-After, RateLimited (never a BadRequest), and conditional requests."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.github.client import RateLimited
from bot.github.rate import ConditionalCache, is_write
from tests.fakes.github import FakeGitHub, RecordedRequest
from tests.fakes.github_rest_base import Call, Reply
from tests.unit.github.support import GET_REPO, REPO, TOKEN_OP, Setup, get_repo

COMMENT_OP = "issues/create-comment"
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


async def comment(gh: GitHubAPI, body: str = "hi", number: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = await gh.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {"owner": "octo-org", "repo": "widgets", "issue_number": number}, data={"body": body},
    )
    return data


def slow(fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch, operation: str, seconds: float = 0.2) -> None:
    """The fake takes `seconds` (real time) to answer `operation`, so overlapping requests would show."""
    handler: Callable[[Call], Awaitable[Reply]] = fake.rest.handlers[operation]

    async def slowly(call: Call) -> Reply:
        await asyncio.sleep(seconds)
        return await handler(call)

    monkeypatch.setitem(fake.rest.handlers, operation, slowly)


def overlapped(first: RecordedRequest, second: RecordedRequest) -> bool:
    """Whether the later of two requests arrived before the earlier one was answered."""
    a, b = sorted((first, second), key=lambda r: r.at)
    assert a.answered_at is not None
    return b.at < a.answered_at


def second_installation(s: Setup) -> int:
    """Another installation that can read the same repository (so the same URLs)."""
    inst = s.fake.add_installation("octo-org-2", [])
    s.fake.add_repo(REPO, installation_id=inst.id)
    return inst.id


# ---- 403/429 without Retry-After, permission 403, RateLimited -------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
async def test_a_secondary_limit_without_retry_after_waits_a_minute(setup: Setup, status: int) -> None:
    setup.fake.fail_secondary_rate_limit("GET", GET_REPO, retry_after=None, status=status)
    repo = await get_repo(setup)
    assert repo["full_name"] == REPO
    assert setup.slept == [60.0]
    assert [c.status for c in setup.fake.calls(GET_REPO)] == [status, 200]


async def test_a_secondary_limit_that_keeps_coming_waits_longer_each_time(setup: Setup) -> None:
    setup.fake.issue_token(setup.installation_id)
    setup.fake.fail_secondary_rate_limit("POST", COMMENT_OP, retry_after=None, times=2)
    setup.fake.add_issue(REPO, number=1)
    await comment(setup.clients.installation(setup.installation_id))
    assert setup.slept == [60.0, 120.0]
    assert [c.status for c in setup.fake.calls(COMMENT_OP)] == [403, 403, 201]


async def test_a_permission_403_is_raised_at_once(setup: Setup) -> None:
    inst = setup.fake.add_installation("octo-org-3", [], permissions={"metadata": "read", "issues": "read"})
    setup.fake.add_repo(REPO, installation_id=inst.id)
    setup.fake.add_issue(REPO, number=1)
    with pytest.raises(BadRequest) as caught:
        await comment(setup.clients.installation(inst.id))
    assert caught.value.status_code == 403 and not isinstance(caught.value, RateLimited)
    assert "not accessible by integration" in str(caught.value)
    assert setup.slept == []
    assert len(setup.fake.calls(COMMENT_OP)) == 1


async def test_a_limit_past_the_retries_raises_rate_limited_not_bad_request(setup: Setup) -> None:
    setup.fake.fail_secondary_rate_limit("GET", GET_REPO, retry_after=10, times=10)
    with pytest.raises(RateLimited) as caught:
        await get_repo(setup)
    assert not isinstance(caught.value, BadRequest)
    assert caught.value.status_code == 403 and "secondary rate limit" in str(caught.value)
    assert setup.slept == [10.0, 10.0, 10.0]
    assert len(setup.fake.calls(GET_REPO)) == 4  # the first try and three retries


async def test_a_long_limit_holds_the_installation_but_not_the_others(setup: Setup) -> None:
    other = second_installation(setup)
    setup.fake.fail_secondary_rate_limit("GET", GET_REPO, retry_after=3600)
    with pytest.raises(RateLimited):
        await get_repo(setup)
    with pytest.raises(RateLimited):  # not sent at all while GitHub said to wait
        await comment(setup.clients.installation(setup.installation_id))
    assert len(setup.fake.calls(GET_REPO)) == 1 and setup.fake.calls(COMMENT_OP) == []
    assert (await get_repo(setup, other))["full_name"] == REPO
    setup.clock.now += 3601
    assert (await get_repo(setup))["full_name"] == REPO


async def test_a_graphql_secondary_limit_is_waited_out(setup: Setup) -> None:
    pull = setup.fake.add_pull(REPO, number=20, mergeable_state="blocked")
    setup.fake.fail_secondary_rate_limit("POST", "/graphql", retry_after=None)
    gh = setup.clients.installation(setup.installation_id)
    enable = (
        "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) "
        "{ clientMutationId } }"
    )
    await gh.graphql(enable, endpoint=setup.fake.graphql_url, id=pull.node_id)
    assert pull.auto_merge is not None
    assert setup.slept == [60.0]
    assert [r.status for r in setup.fake.requests if r.path == "/graphql"] == [403, 200]


# ---- the write queue ------------------------------------------------------------------------------------


async def test_one_installations_writes_are_sent_one_at_a_time(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.fake.add_issue(REPO, number=1)
    slow(setup.fake, monkeypatch, COMMENT_OP)
    gh = setup.clients.installation(setup.installation_id)
    await gh.getitem("/repos/{owner}/{repo}", {"owner": "octo-org", "repo": "widgets"})  # the token first
    await asyncio.gather(*(comment(gh, f"c{i}") for i in range(3)))
    calls = setup.fake.calls(COMMENT_OP)
    assert len(calls) == 3
    assert not any(overlapped(a, b) for a in calls for b in calls if a is not b)
    assert setup.slept == []  # no pressure: no spacing


async def test_two_installations_write_side_by_side(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    other = second_installation(setup)
    setup.fake.add_issue(REPO, number=1)
    for inst in (setup.installation_id, other):
        await get_repo(setup, inst)  # tokens first
    slow(setup.fake, monkeypatch, COMMENT_OP)
    await asyncio.gather(*(comment(setup.clients.installation(i)) for i in (setup.installation_id, other)))
    first, second = setup.fake.calls(COMMENT_OP)
    assert {first.installation_id, second.installation_id} == {setup.installation_id, other}
    assert overlapped(first, second)


async def test_reads_are_not_serialized(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    await get_repo(setup)
    setup.fake.repo(REPO).archived = True  # the repository changes: the next reads are answered 200
    slow(setup.fake, monkeypatch, GET_REPO)
    await asyncio.gather(get_repo(setup), get_repo(setup))
    _, first, second = setup.fake.calls(GET_REPO)
    assert overlapped(first, second)


async def test_under_pressure_after_a_rate_limit_writes_start_a_second_apart(setup: Setup) -> None:
    setup.fake.add_issue(REPO, number=1)
    gh = setup.clients.installation(setup.installation_id)
    await get_repo(setup)
    setup.fake.fail_secondary_rate_limit("POST", COMMENT_OP, retry_after=5)
    starts: list[float] = []
    handler = setup.fake.rest.handlers[COMMENT_OP]

    async def timed(call: Call) -> Reply:
        starts.append(setup.clock())
        return await handler(call)

    setup.fake.rest.handlers[COMMENT_OP] = timed
    for i in range(3):
        await comment(gh, f"c{i}")
    assert setup.slept == [5.0, 1.0, 1.0]
    assert [b - a for a, b in itertools.pairwise(starts)] == [1.0, 1.0]
    await get_repo(setup)  # reads are never spaced
    assert setup.slept == [5.0, 1.0, 1.0]
    setup.clock.now += 301  # five quiet minutes: no pressure any more
    await comment(gh, "later")
    await comment(gh, "later still")
    assert setup.slept == [5.0, 1.0, 1.0]


async def test_a_low_budget_spaces_writes(setup: Setup) -> None:
    setup.fake.add_issue(REPO, number=1)
    gh = setup.clients.installation(setup.installation_id)
    await comment(gh)
    await comment(gh)
    assert setup.slept == []
    setup.fake._rate.budget(f"installation:{setup.installation_id}").used = 4600  # 9 % of the hour left
    await comment(gh)
    await comment(gh)
    assert setup.slept == [1.0]  # the answer to the third said so: the fourth waited


def test_which_requests_are_writes() -> None:
    url = "https://api.github.com/graphql"
    mutation = json.dumps({"query": "# merge\nmutation($id: ID!) { enablePullRequestAutoMerge { x } }"}).encode()
    assert is_write("POST", url, mutation)
    assert is_write("POST", url, json.dumps({"query": "fragment F on X { y } mutation { z }"}).encode())
    assert not is_write("POST", url, json.dumps({"query": "query { mutationCount }"}).encode())
    assert not is_write("POST", url, json.dumps({"query": "{ viewer { login } }"}).encode())
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        assert is_write(method, "https://api.github.com/repos/o/r/issues", b"{}")
    assert not is_write("GET", "https://api.github.com/repos/o/r", b"")


# ---- conditional requests ------------------------------------------------------------------------------


async def test_a_repeated_get_is_answered_304_from_the_cache(setup: Setup) -> None:
    first = await get_repo(setup)
    left = setup.fake.rate_remaining(setup.installation_id)
    second = await get_repo(setup)
    assert second == first
    one, two = setup.fake.calls(GET_REPO)
    assert "if-none-match" not in one.headers and two.headers["if-none-match"].startswith('W/"')
    assert (one.status, two.status) == (200, 304)
    assert setup.fake.rate_remaining(setup.installation_id) == left  # the 304 cost nothing
    assert setup.fake.request_count(setup.installation_id, methods={"GET"}, exclude_304=True) == 1


async def test_a_changed_resource_is_fetched_again(setup: Setup) -> None:
    await get_repo(setup)
    setup.fake.repo(REPO).archived = True
    assert (await get_repo(setup))["archived"] is True
    assert [c.status for c in setup.fake.calls(GET_REPO)] == [200, 200]


async def test_changing_what_a_get_returned_does_not_change_the_cache(setup: Setup) -> None:
    first = await get_repo(setup)
    first["full_name"] = "mutated"
    again = await get_repo(setup)
    assert again["full_name"] == REPO
    again["full_name"] = "mutated too"
    assert (await get_repo(setup))["full_name"] == REPO
    assert [c.status for c in setup.fake.calls(GET_REPO)] == [200, 304, 304]


async def test_installations_never_share_cache_entries(setup: Setup) -> None:
    other = second_installation(setup)
    await get_repo(setup)
    left = setup.fake.rate_remaining(other)
    assert (await get_repo(setup, other))["full_name"] == REPO
    theirs = setup.fake.calls(GET_REPO)[-1]
    assert theirs.installation_id == other and "if-none-match" not in theirs.headers
    assert theirs.status == 200 and setup.fake.rate_remaining(other) == left - 1
    assert setup.clients.installation(other).etags is not setup.clients.installation(setup.installation_id).etags
    assert setup.clients.app().etags is not setup.clients.installation(other).etags


async def test_a_refused_token_is_replaced_and_the_cache_still_answers(setup: Setup) -> None:
    first = await get_repo(setup)
    setup.fake.expire_tokens()
    assert await get_repo(setup) == first
    assert [c.status for c in setup.fake.calls(GET_REPO)] == [200, 401, 304]
    assert len(setup.fake.calls(TOKEN_OP)) == 2


def test_the_cache_is_bounded() -> None:
    cache = ConditionalCache(max_entries=3, max_bytes=1000)
    for i in range(5):
        cache[f"/r/{i}"] = ('W/"e"', None, {"i": i}, None)
    assert sorted(cache) == ["/r/2", "/r/3", "/r/4"]
    cache["/big"] = ('W/"b"', None, "x" * 2000, None)  # bigger than the whole cache: not kept
    assert "/big" not in cache and len(cache) == 3
    cache["/r/5"] = ('W/"f"', None, "y" * 600, None)
    assert len(cache) <= 2 and cache["/r/5"][2] == "y" * 600
