"""The fake GitHub enforces GitHub's rules beyond the schema: annotation limits, conclusions, merge guards,
forks."""

from __future__ import annotations

from typing import Any

from tests.unit.fakes.support import REPO, Setup


def _annotations(count: int) -> list[dict[str, Any]]:
    return [
        {
            "path": "a.py",
            "start_line": i + 1,
            "end_line": i + 1,
            "annotation_level": "warning",
            "message": f"m{i}",
        }
        for i in range(count)
    ]


async def test_annotations_max_50_per_request_and_accumulate(gh: Setup) -> None:
    created = await gh.client.post(
        f"/repos/{REPO}/check-runs",
        json={
            "name": "lint",
            "head_sha": "d" * 40,
            "output": {"title": "t", "summary": "s", "annotations": _annotations(50)},
        },
    )
    assert created.status_code == 201
    run_id = created.json()["id"]
    with gh.fake.allow_violations() as caught:
        too_many = await gh.client.patch(
            f"/repos/{REPO}/check-runs/{run_id}",
            json={"output": {"title": "t", "summary": "s", "annotations": _annotations(51)}},
        )
    assert too_many.status_code == 422
    assert caught
    assert len(gh.fake.world.check_runs[run_id].annotations) == 50
    more = await gh.client.patch(
        f"/repos/{REPO}/check-runs/{run_id}",
        json={"output": {"title": "t", "summary": "s2", "annotations": _annotations(10)}},
    )
    assert more.json()["output"]["annotations_count"] == 60
    listed = await gh.client.get(f"/repos/{REPO}/check-runs/{run_id}/annotations", params={"per_page": 100})
    assert len(listed.json()) == 60


async def test_completed_without_conclusion_is_refused(gh: Setup) -> None:
    response = await gh.client.post(
        f"/repos/{REPO}/check-runs", json={"name": "x", "head_sha": "e" * 40, "status": "completed"}
    )
    assert response.status_code == 422
    assert gh.fake.world.check_runs == {}


async def test_merge_guards(gh: Setup) -> None:
    fake = gh.fake
    pull = fake.add_pull(REPO, number=11)
    stale = await gh.client.put(f"/repos/{REPO}/pulls/11/merge", json={"sha": "0" * 40})
    assert stale.status_code == 409
    fake.repo(REPO).pulls[11].mergeable = False
    refused = await gh.client.put(f"/repos/{REPO}/pulls/11/merge", json={"sha": pull.head_sha})
    assert refused.status_code == 405
    assert not pull.merged
    pull.mergeable = True
    merged = await gh.client.put(
        f"/repos/{REPO}/pulls/11/merge", json={"sha": pull.head_sha, "merge_method": "squash"}
    )
    assert merged.status_code == 200
    assert merged.json()["merged"] is True
    assert merged.json()["sha"] == pull.merge_commit_sha == fake.repo(REPO).branches["main"]
    assert (pull.merged, pull.state) == (True, "closed")
    again = await gh.client.put(f"/repos/{REPO}/pulls/11/merge", json={})
    assert again.status_code == 405
    shown = (await gh.client.get(f"/repos/{REPO}/pulls/11")).json()
    assert (shown["merged"], shown["merge_commit_sha"]) == (True, pull.merge_commit_sha)


async def test_fork_pull_request_shows_the_fork_as_head(gh: Setup) -> None:
    gh.fake.add_pull(REPO, number=12, head_repo="stranger/widgets", head_ref="patch-1")
    body = (await gh.client.get(f"/repos/{REPO}/pulls/12")).json()
    assert body["head"]["repo"]["full_name"] == "stranger/widgets"
    assert body["head"]["repo"]["fork"] is True
    assert body["base"]["repo"]["full_name"] == REPO
