"""Scripted faults and rate limits of the fake GitHub, a bug inside the fake, and what it records."""

from __future__ import annotations

import json

import pytest

from tests.unit.fakes.support import REPO, Setup


async def test_fail_next_scripts_faults_then_recovers(gh: Setup) -> None:
    fake, client = gh.fake, gh.client
    fake.fail_next("GET", "repos/get", 502)
    assert (await client.get(f"/repos/{REPO}")).status_code == 502
    assert (await client.get(f"/repos/{REPO}")).status_code == 200
    fake.fail_next(
        "*", "/repos/{owner}/{repo}/issues/{issue_number}", 429, headers={"Retry-After": "3"}, times=2
    )
    fake.add_issue(REPO, number=2)
    for _ in range(2):
        limited = await client.get(f"/repos/{REPO}/issues/2")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert (await client.get(f"/repos/{REPO}/issues/2")).status_code == 200
    fake.fail_secondary_rate_limit("POST", f"/repos/{REPO}/check-runs", retry_after=7)
    secondary = await client.post(f"/repos/{REPO}/check-runs", json={"name": "x", "head_sha": "f" * 40})
    assert (secondary.status_code, secondary.headers["Retry-After"]) == (403, "7")
    assert "secondary rate limit" in secondary.json()["message"]
    frozen = fake.clock()
    fake.clock = lambda: frozen
    fake.fail_primary_rate_limit("GET", "/repos/*/pulls/*", reset_in=120)
    fake.add_pull(REPO, number=30)
    primary = await client.get(f"/repos/{REPO}/pulls/30")
    assert primary.status_code == 403
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert primary.headers["x-ratelimit-reset"] == str(int(frozen) + 120)
    assert fake.world.check_runs == {}  # the faulted create never happened


async def test_an_exception_in_the_fake_is_a_recorded_violation(
    gh: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(call: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(gh.fake.rest.handlers, "repos/get", broken)
    with gh.fake.allow_violations() as caught:
        response = await gh.client.get(f"/repos/{REPO}")
    assert response.status_code == 500
    assert "FAKE BUG" in str(caught[0])
    assert "boom" in str(caught[0])


async def test_requests_are_recorded_without_secrets(gh: Setup) -> None:
    await gh.client.post(f"/repos/{REPO}/check-runs", json={"name": "rec", "head_sha": "9" * 40})
    [record] = gh.fake.calls("checks/create")
    assert (record.method, record.path, record.status, record.auth) == (
        "POST",
        f"/repos/{REPO}/check-runs",
        201,
        "token",
    )
    assert record.json == {"name": "rec", "head_sha": "9" * 40}
    assert record.path_params == {"owner": "octo-org", "repo": "widgets"}
    assert record.headers["authorization"] == "token ***"
    assert gh.token not in json.dumps([r.headers for r in gh.fake.requests])
