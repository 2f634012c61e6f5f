"""A fake repository backed by a real git repository (FakeGitHub.back_with_git, tests/fakes/github_git.py):
comparisons, branch updates and merges happen in git like GitHub does them; the merge queue rule refuses REST
merges; merged, closed and pushed pull requests leave the queue; without git the fake invents shas as before."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.github_state import Pull
from tests.unit.fakes.support import REPO, Setup, independent_check

ENQUEUE = """
mutation Enqueue($id: ID!) {
  enqueuePullRequest(input: {pullRequestId: $id}) { mergeQueueEntry { position } }
}
"""


class Work:
    """A non-bare git repository with `main` checked out, like tests/support/validation_scenario.py `Project`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "dev")
        self.git("config", "uploadpack.allowReachableSHA1InWant", "true")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            (self.root / name).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, files: dict[str, str]) -> str:
        """A commit on a new branch `name` off the current main; main stays checked out."""
        self.git("checkout", "-q", "-b", name)
        sha = self.commit(files, message=name)
        self.git("checkout", "-q", "main")
        return sha

    def parents(self, sha: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def show(self, rev: str, path: str) -> str:
        return self.git("show", f"{rev}:{path}")


def _backed(gh: Setup, tmp_path: Path, *, conflict: bool = False) -> tuple[Work, Pull]:
    """REPO backed by a git repository: main and feature diverged by one commit each (both edit README.md
    when `conflict`), feature published as pull request #7's head."""
    work = Work(tmp_path / REPO)
    work.commit({"README.md": "hello\n"})
    head = work.branch("feature", {"feature.txt": "f\n", **({"README.md": "feature\n"} if conflict else {})})
    work.commit({"main.txt": "m\n", **({"README.md": "main\n"} if conflict else {})}, message="main")
    work.git("update-ref", "refs/pull/7/head", head)
    gh.fake.back_with_git(REPO, work.root)
    return work, gh.fake.add_pull(REPO, number=7, title="Add feature", head_ref="feature", head_sha=head)


async def _compare(gh: Setup, basehead: str, **headers: str) -> httpx.Response:
    response = await gh.client.get(f"/repos/{REPO}/compare/{basehead}", headers=headers)
    assert response.status_code == 200, response.text
    independent_check(response)
    return response


async def _put(gh: Setup, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    response = await gh.client.put(f"/repos/{REPO}/{path}", json=body)
    assert response.status_code == status, response.text
    independent_check(response)
    answer: dict[str, Any] = response.json()
    return answer


async def test_compare_counts_status_commits_and_files_come_from_git(gh: Setup, tmp_path: Path) -> None:
    work, pull = _backed(gh, tmp_path)
    main, fork_point = work.git("rev-parse", "main"), work.git("merge-base", "main", "feature")
    assert gh.fake.repo(REPO).branches["main"] == main  # back_with_git took git's head of main
    body = (await _compare(gh, "main...octo-org:feature")).json()
    assert (body["status"], body["ahead_by"], body["behind_by"], body["total_commits"]) == ("diverged", 1, 1, 1)
    assert [(c["sha"], c["commit"]["message"]) for c in body["commits"]] == [(pull.head_sha, "feature")]
    assert [p["sha"] for p in body["commits"][0]["parents"]] == [fork_point]
    assert [(f["filename"], f["status"], f["additions"], f["deletions"]) for f in body["files"]] == [
        ("feature.txt", "added", 1, 0)
    ]
    assert (body["base_commit"]["sha"], body["merge_base_commit"]["sha"]) == (main, fork_point)
    counts: dict[str, tuple[str, int, int, int]] = {}
    for basehead in (f"{fork_point}...feature", f"feature...{fork_point}", f"main...{main}"):
        found = (await _compare(gh, basehead)).json()
        counts[basehead] = (found["status"], found["ahead_by"], found["behind_by"], len(found["commits"]))
    assert list(counts.values()) == [("ahead", 1, 0, 1), ("behind", 0, 1, 0), ("identical", 0, 0, 0)]
    diff = await _compare(gh, "main...feature", Accept="application/vnd.github.diff")
    assert "+++ b/feature.txt" in diff.text and "main.txt" not in diff.text
    assert (await gh.client.get(f"/repos/{REPO}/compare/main...nowhere")).status_code == 404


async def test_update_branch_merges_the_base_into_the_head_in_git(gh: Setup, tmp_path: Path) -> None:
    work, pull = _backed(gh, tmp_path)
    old, main = pull.head_sha, work.git("rev-parse", "main")
    await _put(gh, "pulls/7/update-branch", {"expected_head_sha": old}, 202)
    new = pull.head_sha
    assert new != old
    assert work.git("rev-parse", "refs/pull/7/head") == work.git("rev-parse", "feature") == new
    assert gh.fake.repo(REPO).branches["feature"] == new
    assert work.parents(new) == [old, main]
    assert (work.show(new, "feature.txt"), work.show(new, "main.txt")) == ("f", "m")
    assert work.git("log", "-1", "--format=%s", new) == "Merge branch 'main' into feature"
    assert work.git("rev-parse", "main") == main
    assert work.git("status", "--porcelain") == ""  # the working tree (main) was not touched
    assert (await _compare(gh, "main...feature")).json()["behind_by"] == 0

    again = await _put(gh, "pulls/7/update-branch", {}, 422)  # base already in the head
    assert again["message"] == "There are no new commits on the base branch."
    assert pull.head_sha == work.git("rev-parse", "refs/pull/7/head") == new


async def test_update_branch_with_a_conflict_is_422_and_moves_nothing(gh: Setup, tmp_path: Path) -> None:
    work, pull = _backed(gh, tmp_path, conflict=True)
    old = pull.head_sha
    answer = await _put(gh, "pulls/7/update-branch", {"expected_head_sha": old}, 422)
    assert "merge conflict" in answer["message"]
    assert pull.head_sha == old == work.git("rev-parse", "refs/pull/7/head") == work.git("rev-parse", "feature")
    assert gh.fake.repo(REPO).branches["feature"] == old


@pytest.mark.parametrize(("method", "two_parents"), [("merge", True), ("squash", False), ("rebase", False)])
async def test_merge_moves_the_base_branch_in_git(gh: Setup, tmp_path: Path, method: str, two_parents: bool) -> None:
    work, pull = _backed(gh, tmp_path)
    main = work.git("rev-parse", "main")
    answer = await _put(gh, "pulls/7/merge", {"sha": pull.head_sha, "merge_method": method}, 200)
    sha = answer["sha"]
    assert work.git("rev-parse", "main") == sha == gh.fake.repo(REPO).branches["main"] == pull.merge_commit_sha
    assert work.parents(sha) == ([main, pull.head_sha] if two_parents else [main])
    assert (work.show(sha, "feature.txt"), work.show(sha, "main.txt")) == ("f", "m")
    assert pull.merged and pull.state == "closed"
    assert work.git("status", "--porcelain") == ""  # the checked-out main came along with its files
    later = work.commit({"later.txt": "l\n"})  # what Project.commit does: builds on the new main
    assert work.parents(later) == [sha]
    assert work.show(later, "feature.txt") == "f"


async def test_merge_with_a_conflict_is_405_and_moves_nothing(gh: Setup, tmp_path: Path) -> None:
    work, pull = _backed(gh, tmp_path, conflict=True)
    main = work.git("rev-parse", "main")
    answer = await _put(gh, "pulls/7/merge", {"sha": pull.head_sha, "merge_method": "squash"}, 405)
    assert "merge conflict" in answer["message"]
    assert work.git("rev-parse", "main") == gh.fake.repo(REPO).branches["main"] == main
    assert not pull.merged and pull.state == "open"
    assert (tmp_path / REPO / "README.md").read_text() == "main\n"


async def _enqueue(gh: Setup, pull: Pull) -> None:
    response = await gh.client.post("/graphql", json={"query": ENQUEUE, "variables": {"id": pull.node_id}})
    assert "errors" not in response.json(), response.text


def _positions(gh: Setup) -> dict[int, int]:
    """Queue position by pull request number."""
    entries = {n: gh.fake.repo(REPO).pulls[n].queue_entry for n in gh.fake.queued(REPO)}
    return {n: entry["position"] for n, entry in entries.items() if entry is not None}


async def test_a_merge_on_a_queue_branch_is_405(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    pull = gh.fake.add_pull(REPO, number=1)
    answer = await _put(gh, "pulls/1/merge", {"sha": pull.head_sha}, 405)
    assert "Changes must be made through the merge queue" in answer["message"]
    assert not pull.merged and pull.state == "open"


async def test_merged_closed_and_pushed_pull_requests_leave_the_queue(gh: Setup) -> None:
    gh.fake.require_merge_queue(REPO, "main")
    pulls = [gh.fake.add_pull(REPO, number=n, head_ref=f"topic-{n}") for n in (1, 2, 3, 4)]
    for pull in pulls:
        await _enqueue(gh, pull)
    assert _positions(gh) == {1: 1, 2: 2, 3: 3, 4: 4}
    await _put(gh, "pulls/2/update-branch", {}, 202)  # a push
    assert _positions(gh) == {1: 1, 3: 2, 4: 3}
    gh.fake.close_pull(REPO, 1)
    assert _positions(gh) == {3: 1, 4: 2}
    assert gh.fake.repo(REPO).issues[1].state == "closed"
    gh.fake.repo(REPO).rules["main"] = []  # the queue rule goes: a REST merge is allowed again
    await _put(gh, "pulls/3/merge", {"sha": pulls[2].head_sha}, 200)
    assert _positions(gh) == {4: 1}


async def test_a_fake_without_git_invents_shas_and_answers_preset_comparisons(gh: Setup) -> None:
    pull = gh.fake.add_pull(REPO, number=7, head_ref="feature")
    gh.fake.set_comparison(REPO, "main", "feature", status="diverged", ahead_by=2, behind_by=3, files=["a.py"])
    preset = (await _compare(gh, "main...feature")).json()
    assert (preset["status"], preset["ahead_by"], preset["behind_by"]) == ("diverged", 2, 3)
    assert [f["filename"] for f in preset["files"]] == ["a.py"]
    unset = (await _compare(gh, f"main...{'b' * 40}")).json()
    assert (unset["status"], unset["ahead_by"], unset["files"]) == ("ahead", 1, [])
    old = pull.head_sha
    await _put(gh, "pulls/7/update-branch", {"expected_head_sha": old}, 202)
    assert pull.head_sha != old and gh.fake.repo(REPO).branches["feature"] == pull.head_sha
    await _put(gh, "pulls/7/update-branch", {}, 202)  # no git: never "no new commits"
    answer = await _put(gh, "pulls/7/merge", {"sha": pull.head_sha, "merge_method": "squash"}, 200)
    assert answer["sha"] == gh.fake.repo(REPO).branches["main"] == pull.merge_commit_sha
    assert len(answer["sha"]) == 40 and gh.fake.repo(REPO).git_dir is None
