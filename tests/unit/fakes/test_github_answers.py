"""The fake GitHub is honest: it answers every operation with a body the description allows, built from
its state, and refuses what GitHub would refuse."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.fakes.github_state import blob_sha
from tests.unit.fakes.support import REPO, Setup, independent_check


def _populate(fake: FakeGitHub) -> str:
    """A repository with a config file, pull request #7 with a comment, review, status and check run, a
    protected main branch with rules, a maintainer and a comparison; returns #7's head sha."""
    fake.set_file(REPO, ".github/codegen.yml", "checks: [lint]\n")
    pull = fake.add_pull(REPO, number=7, head_ref="feature", files=["a.py", "b.py"], labels=["bug"])
    fake.add_comment(REPO, 7, "@codegen please fix", user="alice")
    fake.protect_branch(REPO, "main", required_contexts=["ci"], required_approving_review_count=1)
    fake.set_branch_rules(
        REPO,
        "main",
        [
            {
                "type": "required_status_checks",
                "parameters": {
                    "required_status_checks": [{"context": "ci"}],
                    "strict_required_status_checks_policy": True,
                },
            }
        ],
    )
    fake.add_review(REPO, 7, user="alice", state="APPROVED")
    fake.add_status(REPO, pull.head_sha, "ci", "success")
    fake.add_check_run(REPO, pull.head_sha, "lint")
    fake.set_permission(REPO, "alice", "maintain")
    fake.set_comparison(REPO, "main", "feature", status="diverged", ahead_by=2, behind_by=3, files=["a.py"])
    return pull.head_sha


async def _answers(gh: Setup, calls: list[tuple[str, str, Any, int]]) -> dict[str, Any]:
    """Send the calls in order; each must get its status, rate-limit headers and a body the description
    allows (checked again independently). Returns the bodies by "METHOD /path" (query dropped)."""
    answers: dict[str, Any] = {}
    for method, path, body, status in calls:
        response = await gh.client.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert int(response.headers["x-ratelimit-limit"]) == 5000
        assert int(response.headers["x-ratelimit-remaining"]) < 5000
        independent_check(response)
        answers[f"{method} {path.split('?')[0]}"] = response.json() if response.content else None
    return answers


async def test_repository_check_and_status_operations_answer_from_state(gh: Setup) -> None:
    sha = _populate(gh.fake)
    answers = await _answers(
        gh,
        [
            ("GET", f"/repos/{REPO}", None, 200),
            ("GET", "/rate_limit", None, 200),
            (
                "POST",
                f"/repos/{REPO}/check-runs",
                {"name": "codegen", "head_sha": sha, "status": "in_progress"},
                201,
            ),
            ("GET", f"/repos/{REPO}/commits/{sha}/check-runs", None, 200),
            ("GET", f"/repos/{REPO}/commits/{sha}/check-suites", None, 200),
            ("GET", f"/repos/{REPO}/commits/{sha}/status", None, 200),
            ("POST", f"/repos/{REPO}/statuses/{sha}", {"state": "pending", "context": "codegen"}, 201),
        ],
    )
    run_list = answers[f"GET /repos/{REPO}/commits/{sha}/check-runs"]
    assert {r["name"] for r in run_list["check_runs"]} == {"lint", "codegen"}
    assert run_list["total_count"] == 2
    assert gh.fake.violations == []


async def test_issue_comment_and_label_operations_answer_from_state(gh: Setup) -> None:
    _populate(gh.fake)
    answers = await _answers(
        gh,
        [
            ("GET", f"/repos/{REPO}/issues/7", None, 200),
            ("GET", f"/repos/{REPO}/issues/7/comments", None, 200),
            ("POST", f"/repos/{REPO}/issues/7/comments", {"body": "On it"}, 201),
            ("POST", f"/repos/{REPO}/issues/7/labels", {"labels": ["codegen"]}, 200),
            ("DELETE", f"/repos/{REPO}/issues/7/labels/codegen", None, 200),
        ],
    )
    assert answers[f"GET /repos/{REPO}/issues/7"]["comments"] == 1
    assert "pull_request" in answers[f"GET /repos/{REPO}/issues/7"]
    assert [c["body"] for c in answers[f"GET /repos/{REPO}/issues/7/comments"]] == ["@codegen please fix"]
    created = answers[f"POST /repos/{REPO}/issues/7/comments"]
    assert created["user"]["login"] == f"{gh.fake.app_slug}[bot]"
    assert created["user"]["type"] == "Bot"
    assert gh.fake.violations == []


async def test_content_and_pull_operations_answer_from_state(gh: Setup) -> None:
    sha = _populate(gh.fake)
    answers = await _answers(
        gh,
        [
            ("GET", f"/repos/{REPO}/contents/.github/codegen.yml?ref=main", None, 200),
            ("GET", f"/repos/{REPO}/contents/.github", None, 200),
            ("GET", f"/repos/{REPO}/pulls?state=open", None, 200),
            ("GET", f"/repos/{REPO}/pulls/7", None, 200),
            ("GET", f"/repos/{REPO}/pulls/7/files", None, 200),
            ("GET", f"/repos/{REPO}/pulls/7/reviews", None, 200),
        ],
    )
    assert answers[f"GET /repos/{REPO}/pulls/7"]["head"]["sha"] == sha
    assert answers[f"GET /repos/{REPO}/pulls/7"]["labels"][0]["name"] == "bug"
    assert [f["filename"] for f in answers[f"GET /repos/{REPO}/pulls/7/files"]] == ["a.py", "b.py"]
    assert [entry["name"] for entry in answers[f"GET /repos/{REPO}/contents/.github"]] == ["codegen.yml"]
    assert gh.fake.violations == []


async def test_comparison_permission_and_protection_operations_answer_from_state(gh: Setup) -> None:
    _populate(gh.fake)
    answers = await _answers(
        gh,
        [
            ("GET", f"/repos/{REPO}/compare/main...feature", None, 200),
            ("GET", f"/repos/{REPO}/collaborators/alice/permission", None, 200),
            ("GET", f"/repos/{REPO}/branches/main/protection", None, 200),
            ("GET", f"/repos/{REPO}/branches/main/protection/required_status_checks", None, 200),
            ("GET", f"/repos/{REPO}/rules/branches/main", None, 200),
        ],
    )
    assert answers[f"GET /repos/{REPO}/collaborators/alice/permission"]["permission"] == "write"
    assert answers[f"GET /repos/{REPO}/collaborators/alice/permission"]["role_name"] == "maintain"
    assert answers[f"GET /repos/{REPO}/compare/main...feature"]["behind_by"] == 3
    assert answers[f"GET /repos/{REPO}/branches/main/protection/required_status_checks"]["contexts"] == ["ci"]
    assert answers[f"GET /repos/{REPO}/rules/branches/main"][0]["type"] == "required_status_checks"
    assert gh.fake.violations == []


async def test_update_branch_and_delete_ref_change_the_state(gh: Setup) -> None:
    sha = _populate(gh.fake)
    await _answers(
        gh,
        [
            ("PUT", f"/repos/{REPO}/pulls/7/update-branch", {"expected_head_sha": sha}, 202),
            ("DELETE", f"/repos/{REPO}/git/refs/heads/feature", None, 204),
        ],
    )
    assert "feature" not in gh.fake.repo(REPO).branches
    assert gh.fake.repo(REPO).pulls[7].head_sha != sha  # update-branch moved the head
    assert gh.fake.violations == []


async def test_created_check_run_reflects_the_request(gh: Setup) -> None:
    sha = "c" * 40
    response = await gh.client.post(
        f"/repos/{REPO}/check-runs",
        json={
            "name": "codegen/validate",
            "head_sha": sha,
            "external_id": "job-9",
            "details_url": "https://x.test",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["head_sha"], body["external_id"]) == ("codegen/validate", sha, "job-9")
    assert body["status"] == "queued"
    assert body["conclusion"] is None
    assert body["app"]["id"] == gh.fake.app_id
    run = gh.fake.world.check_runs[body["id"]]
    got = await gh.client.get(f"/repos/{REPO}/check-runs/{run.id}")
    assert got.json()["check_suite"]["id"] == run.suite_id
    done = await gh.client.patch(
        f"/repos/{REPO}/check-runs/{run.id}",
        json={"conclusion": "failure", "output": {"title": "2 problems", "summary": "see annotations"}},
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["conclusion"]) == ("completed", "failure")
    assert done.json()["output"]["title"] == "2 problems"
    assert done.json()["completed_at"] is not None


async def test_contents_are_base64_with_the_git_blob_sha(gh: Setup) -> None:
    content = "rules:\n  - lint\n" * 20
    gh.fake.set_file(REPO, "cfg/codegen.yml", content, ref="release")
    response = await gh.client.get(f"/repos/{REPO}/contents/cfg/codegen.yml", params={"ref": "release"})
    body = response.json()
    assert base64.b64decode(body["content"]).decode() == content
    assert "\n" in body["content"]  # wrapped like GitHub's
    assert body["sha"] == blob_sha(content.encode())
    missing = await gh.client.get(f"/repos/{REPO}/contents/cfg/codegen.yml")  # default branch lacks it
    assert missing.status_code == 404
    assert (await gh.client.get(f"/repos/{REPO}/contents/x", params={"ref": "nope"})).status_code == 404


async def test_lists_are_paginated_with_link_headers(gh: Setup) -> None:
    gh.fake.add_issue(REPO, number=3)
    for i in range(3):
        gh.fake.add_comment(REPO, 3, f"comment {i}")
    first = await gh.client.get(f"/repos/{REPO}/issues/3/comments", params={"per_page": 2})
    assert [c["body"] for c in first.json()] == ["comment 0", "comment 1"]
    assert 'rel="next"' in first.headers["Link"]
    second = await gh.client.get(first.links["next"]["url"])
    assert [c["body"] for c in second.json()] == ["comment 2"]
    assert 'rel="next"' not in second.headers["Link"]


async def test_comment_update_and_reactions(gh: Setup) -> None:
    gh.fake.add_issue(REPO, number=4)
    comment = gh.fake.add_comment(REPO, 4, "please")
    updated = await gh.client.patch(f"/repos/{REPO}/issues/comments/{comment.id}", json={"body": "done"})
    assert updated.json()["body"] == "done"
    assert (await gh.client.get(f"/repos/{REPO}/issues/comments/{comment.id}")).json()["body"] == "done"
    url = f"/repos/{REPO}/issues/comments/{comment.id}/reactions"
    assert (await gh.client.post(url, json={"content": "eyes"})).status_code == 201
    assert (await gh.client.post(url, json={"content": "eyes"})).status_code == 200  # already there
    assert [r.content for r in gh.fake.world.comments[comment.id].reactions] == ["eyes"]
    assert (await gh.client.get(f"/repos/{REPO}/issues/comments/999999")).status_code == 404
