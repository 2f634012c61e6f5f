"""The fake GitHub is honest: it answers like GitHub's contract says, refuses what GitHub would refuse,
and records every contract violation so the fixture can fail the test."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github import SPEC_PATH, FakeGitHub
from tests.fakes.github_state import blob_sha, new_rsa_key
from tests.fakes.openapi_check import OpenAPIChecker

REPO = "octo-org/widgets"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Setup:
    fake: FakeGitHub
    client: httpx.AsyncClient  # authenticated with an installation token for REPO
    installation_id: int
    token: str


@pytest_asyncio.fixture
async def gh(fake_github: FakeGitHub) -> AsyncIterator[Setup]:
    inst = fake_github.add_installation("octo-org", [REPO])
    token = fake_github.issue_token(inst.id)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(base_url=fake_github.url, headers=headers) as client:
        yield Setup(fake_github, client, inst.id, token)


def _independent_check(fake: FakeGitHub, request: httpx.Request, response: httpx.Response) -> None:
    """Re-check a response with a fresh checker, so the test does not trust the fake's own check."""
    checker = OpenAPIChecker(SPEC_PATH)
    checker.check_response(
        request.method,
        request.url.raw_path.decode(),
        dict(request.headers),
        request.content,
        response.status_code,
        dict(response.headers),
        response.content,
    )


# ---- honest answers ----------------------------------------------------------------------------------


async def test_every_operation_answers_with_a_schema_valid_body_from_state(gh: Setup) -> None:
    fake, client = gh.fake, gh.client
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
    sha = pull.head_sha
    calls: list[tuple[str, str, Any, int]] = [
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
        ("GET", f"/repos/{REPO}/issues/7", None, 200),
        ("GET", f"/repos/{REPO}/issues/7/comments", None, 200),
        ("POST", f"/repos/{REPO}/issues/7/comments", {"body": "On it"}, 201),
        ("POST", f"/repos/{REPO}/issues/7/labels", {"labels": ["codegen"]}, 200),
        ("DELETE", f"/repos/{REPO}/issues/7/labels/codegen", None, 200),
        ("GET", f"/repos/{REPO}/contents/.github/codegen.yml?ref=main", None, 200),
        ("GET", f"/repos/{REPO}/contents/.github", None, 200),
        ("GET", f"/repos/{REPO}/pulls?state=open", None, 200),
        ("GET", f"/repos/{REPO}/pulls/7", None, 200),
        ("GET", f"/repos/{REPO}/pulls/7/files", None, 200),
        ("GET", f"/repos/{REPO}/pulls/7/reviews", None, 200),
        ("GET", f"/repos/{REPO}/compare/main...feature", None, 200),
        ("GET", f"/repos/{REPO}/collaborators/alice/permission", None, 200),
        ("GET", f"/repos/{REPO}/branches/main/protection", None, 200),
        ("GET", f"/repos/{REPO}/branches/main/protection/required_status_checks", None, 200),
        ("GET", f"/repos/{REPO}/rules/branches/main", None, 200),
        ("PUT", f"/repos/{REPO}/pulls/7/update-branch", {"expected_head_sha": sha}, 202),
        ("DELETE", f"/repos/{REPO}/git/refs/heads/feature", None, 204),
    ]
    answers: dict[str, Any] = {}
    for method, path, body, status in calls:
        response = await client.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)
        assert int(response.headers["x-ratelimit-limit"]) == 5000
        assert int(response.headers["x-ratelimit-remaining"]) < 5000
        _independent_check(fake, response.request, response)
        answers[f"{method} {path.split('?')[0]}"] = response.json() if response.content else None
    run_list = answers[f"GET /repos/{REPO}/commits/{sha}/check-runs"]
    assert {r["name"] for r in run_list["check_runs"]} == {"lint", "codegen"}
    assert run_list["total_count"] == 2
    assert answers[f"GET /repos/{REPO}/pulls/7"]["head"]["sha"] == sha
    assert answers[f"GET /repos/{REPO}/pulls/7"]["labels"][0]["name"] == "bug"
    assert [f["filename"] for f in answers[f"GET /repos/{REPO}/pulls/7/files"]] == ["a.py", "b.py"]
    assert answers[f"GET /repos/{REPO}/collaborators/alice/permission"]["permission"] == "write"
    assert answers[f"GET /repos/{REPO}/collaborators/alice/permission"]["role_name"] == "maintain"
    assert answers[f"GET /repos/{REPO}/compare/main...feature"]["behind_by"] == 3
    assert answers[f"GET /repos/{REPO}/branches/main/protection/required_status_checks"]["contexts"] == ["ci"]
    assert answers[f"GET /repos/{REPO}/rules/branches/main"][0]["type"] == "required_status_checks"
    assert answers[f"GET /repos/{REPO}/issues/7"]["comments"] == 1
    assert "pull_request" in answers[f"GET /repos/{REPO}/issues/7"]
    assert [c["body"] for c in answers[f"GET /repos/{REPO}/issues/7/comments"]] == ["@codegen please fix"]
    created = answers[f"POST /repos/{REPO}/issues/7/comments"]
    assert created["user"]["login"] == f"{fake.app_slug}[bot]"
    assert created["user"]["type"] == "Bot"
    assert [entry["name"] for entry in answers[f"GET /repos/{REPO}/contents/.github"]] == ["codegen.yml"]
    assert "feature" not in fake.repo(REPO).branches
    assert fake.repo(REPO).pulls[7].head_sha != sha  # update-branch moved the head
    assert fake.violations == []


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


# ---- contract violations ------------------------------------------------------------------------------


async def test_invented_endpoint_is_404_and_recorded(gh: Setup) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.get(f"/repos/{REPO}/wiki/pages")
    assert response.status_code == 404
    assert [v.kind for v in caught] == ["operation"]
    assert gh.fake.violations == []  # allowed: diverted to `caught`


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "codegen", "head_sha": "a" * 40, "colour": "red"}, "colour"),
        ({"name": "codegen", "head_sha": "a" * 40, "conclusion": "great"}, "great"),
        ({"name": "codegen"}, "head_sha"),
    ],
)
async def test_bad_request_bodies_are_422_recorded_and_have_no_effect(
    gh: Setup, body: dict[str, Any], needle: str
) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.post(f"/repos/{REPO}/check-runs", json=body)
    assert response.status_code == 422
    assert len(caught) == 1
    assert caught[0].kind == "body"
    assert needle in str(caught[0])
    assert gh.fake.world.check_runs == {}


async def test_wrong_enum_on_update_leaves_the_run_untouched(gh: Setup) -> None:
    created = await gh.client.post(f"/repos/{REPO}/check-runs", json={"name": "c", "head_sha": "b" * 40})
    run_id = created.json()["id"]
    with gh.fake.allow_violations() as caught:
        response = await gh.client.patch(f"/repos/{REPO}/check-runs/{run_id}", json={"conclusion": "great"})
    assert response.status_code == 422
    assert "great" in str(caught[0])
    assert gh.fake.world.check_runs[run_id].conclusion is None


async def test_undocumented_query_parameter_is_a_violation(gh: Setup) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.get(f"/repos/{REPO}/pulls", params={"author": "alice"})
    assert response.status_code == 422
    assert "author" in str(caught[0])


async def test_violations_outside_allow_are_kept_for_the_fixture() -> None:
    async with FakeGitHub() as fake, httpx.AsyncClient(base_url=fake.url) as client:
        await client.get("/nowhere")
    assert len(fake.violations) == 1
    assert fake.violations[0].path == "/nowhere"


def test_the_fixture_fails_a_test_that_caused_a_violation(tmp_path: Path) -> None:
    """Run pytest on a throwaway test that sends an invented field: the run must fail at teardown."""
    test_file = tmp_path / "test_sloppy_bot.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import httpx

            async def test_sloppy(fake_github):
                inst = fake_github.add_installation("o", ["o/r"])
                token = fake_github.issue_token(inst.id)
                async with httpx.AsyncClient(base_url=fake_github.url) as client:
                    await client.post(
                        "/repos/o/r/check-runs",
                        headers={"Authorization": f"token {token}"},
                        json={"name": "x", "head_sha": "a" * 40, "colour": "red"},
                    )
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.fakes.github_fixtures",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "contract violation" in output
    assert "colour" in output


# ---- auth ---------------------------------------------------------------------------------------------


async def test_app_endpoints_need_a_valid_app_jwt(fake_github: FakeGitHub) -> None:
    fake = fake_github
    inst = fake.add_installation("octo-org", [REPO])
    now = fake.clock()
    other_key, _ = new_rsa_key()
    bad_jwts = {
        "expired": fake.app_jwt(iat=now - 700, exp=now - 10),
        "too long": fake.app_jwt(iat=now, exp=now + 900),
        "wrong issuer": fake.app_jwt(iss="999"),
        "wrong key": fake.app_jwt(private_key_pem=other_key),
        "HS256": jwt.encode(
            {"iat": int(now), "exp": int(now) + 60, "iss": str(fake.app_id)}, "s" * 32, "HS256"
        ),
    }
    async with httpx.AsyncClient(base_url=fake.url) as client:
        assert (await client.get("/app")).status_code == 401
        for name, token in bad_jwts.items():
            response = await client.get("/app", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, name
        installation_token = fake.issue_token(inst.id)
        as_installation = await client.get("/app", headers={"Authorization": f"token {installation_token}"})
        assert as_installation.status_code == 401
        good = {"Authorization": f"Bearer {fake.app_jwt()}"}
        app = await client.get("/app", headers=good)
        assert app.status_code == 200
        assert app.json()["id"] == fake.app_id
        found = await client.get(f"/repos/{REPO}/installation", headers=good)
        assert found.json()["id"] == inst.id
        assert (await client.get("/repos/octo-org/unknown/installation", headers=good)).status_code == 404
        fake.token_ttl = 600
        frozen = 1_900_000_000.0
        fake.clock = lambda: frozen
        good = {"Authorization": f"Bearer {fake.app_jwt()}"}
        minted = await client.post(f"/app/installations/{inst.id}/access_tokens", headers=good)
        assert minted.status_code == 201
        token = minted.json()["token"]
        assert fake.world.tokens[token].expires_at == frozen + 600
        assert minted.json()["expires_at"] == "2030-03-17T17:56:40Z"  # frozen + 600 s, GitHub's format
        missing = await client.post("/app/installations/123456789/access_tokens", headers=good)
        assert missing.status_code == 404


async def test_repo_endpoints_need_an_unexpired_token_for_that_repo(fake_github: FakeGitHub) -> None:
    fake = fake_github
    inst = fake.add_installation("octo-org", [REPO, "octo-org/other"])
    elsewhere = fake.add_installation("someone", ["someone/thing"])
    token = fake.issue_token(inst.id)
    narrow = fake.issue_token(inst.id, repos=["octo-org/other"])
    async with httpx.AsyncClient(base_url=fake.url) as client:

        async def status(auth: str | None, repo: str = REPO) -> int:
            headers = {"Authorization": auth} if auth else {}
            return (await client.get(f"/repos/{repo}", headers=headers)).status_code

        assert await status(None) == 401
        assert await status("token ghs_notissuedbythisfake000000000000000") == 401
        assert await status(f"Bearer {fake.app_jwt()}") == 401
        assert await status(f"token {token}") == 200
        assert await status(f"Bearer {token}") == 200
        assert await status(f"token {token}", "someone/thing") == 404
        assert await status(f"token {fake.issue_token(elsewhere.id)}") == 404
        assert await status(f"token {narrow}") == 404
        assert await status(f"token {narrow}", "octo-org/other") == 200
        current = fake.clock()
        fake.clock = lambda: current + fake.token_ttl + 1
        assert await status(f"token {token}") == 401
        fake.clock = lambda: current
        fake.expire_tokens()
        assert await status(f"token {token}") == 401


async def test_installation_permissions_are_enforced(fake_github: FakeGitHub) -> None:
    inst = fake_github.add_installation(
        "octo-org", [REPO], permissions={"metadata": "read", "checks": "read"}
    )
    token = fake_github.issue_token(inst.id)
    async with httpx.AsyncClient(
        base_url=fake_github.url, headers={"Authorization": f"token {token}"}
    ) as client:
        denied = await client.post(f"/repos/{REPO}/check-runs", json={"name": "x", "head_sha": "a" * 40})
        assert denied.status_code == 403
        assert denied.json()["message"] == "Resource not accessible by integration"
        assert (await client.get(f"/repos/{REPO}/commits/main/check-runs")).status_code == 200


async def test_manifest_conversion_returns_a_usable_app(fake_github: FakeGitHub) -> None:
    registered = fake_github.register_manifest_code("code-123", slug="my-codegen")
    async with httpx.AsyncClient(base_url=fake_github.url) as client:
        assert (await client.post("/app-manifests/unknown/conversions")).status_code == 404
        response = await client.post("/app-manifests/code-123/conversions")
        assert response.status_code == 201
        body = response.json()
        assert {"id", "slug", "pem", "webhook_secret", "client_id", "client_secret"} <= set(body)
        assert (body["id"], body["slug"]) == (registered.id, "my-codegen")
        key = serialization.load_pem_private_key(body["pem"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        now = int(fake_github.clock())
        app_jwt = jwt.encode(
            {"iat": now - 30, "exp": now + 500, "iss": str(body["id"])}, body["pem"], "RS256"
        )
        me = await client.get("/app", headers={"Authorization": f"Bearer {app_jwt}"})
        assert me.json()["slug"] == "my-codegen"
        assert (await client.post("/app-manifests/code-123/conversions")).status_code == 404  # single use


# ---- GitHub's rules beyond the schema ----------------------------------------------------------------------


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


# ---- GraphQL ---------------------------------------------------------------------------------------

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


# ---- faults and recording ------------------------------------------------------------------------


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
