"""REST handlers of the fake GitHub for pull requests: list, get, files, reviews, merge, update-branch.

Decisions:
- A merge is refused (405) when the pull request is closed, merged, a draft, `mergeable` is False or
  `mergeable_state` is "dirty", "blocked" or "draft"; `sha` that is not the head gives 409. A merge
  method the repository does not allow is 405 too.
- A merge on a base branch whose rules require a merge queue is refused: 405 "Repository rule violations
  found\n\nChanges must be made through the merge queue" (after the 405 for a closed pull request and the
  409 for a stale `sha`; see QUEUE_REQUIRED for the sources).
- A merge moves the base branch to a new merge commit, closes the pull request and its issue, clears
  auto-merge, takes it out of the merge queue (the entries behind it move forward), and (same-repository
  heads) gives the base branch the head branch's files.
- `update-branch` simulates GitHub merging the base into the head: the head gets a new sha, the pull
  request leaves the merge queue (a push does that), and a "behind" pull request becomes "clean".
- A repository backed by git (FakeGitHub.back_with_git) merges and updates branches for real, and may
  refuse them for conflicts or nothing to update: github_git.py. Otherwise shas are invented.
- `mergeable` is null (and `mergeable_state` "unknown") while GitHub computes it: the next
  `computing_reads` reads of a pull request answer so, then the real value (docs.github.com "Get a pull
  request": "If the value is null, then GitHub has started a background job to compute the
  mergeability. After giving the job time to complete, resubmit the request.").
- `GET /repos/{o}/{r}/commits/{sha}/pulls` lists the open pull requests of this repository whose head is
  that commit, forks' included (GitHub keeps every PR head as `refs/pull/N/head` of the base repository;
  docs.github.com "List pull requests associated with a commit"). This is how a fork's check run, whose
  `pull_requests` is always `[]`, is traced back to its pull request.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github_git import git_of, merge_in_git, update_branch_in_git
from tests.fakes.github_graphql_queue import leave_queue, requires_queue
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, invalid, lookup
from tests.fakes.github_state import Pull, Repo

UNMERGEABLE_STATES = ("dirty", "blocked", "draft")
#: GitHub's answer (405) to a REST merge on a branch whose rules require a merge queue, as reported publicly:
#: "status 405: Repository rule violations found. Changes must be made through the merge queue"
#: (github.com/digitaldrywood/detent/issues/2459), the same two lines quoted from a Mergify error in
#: github.com/anza-xyz/kit/pull/94
QUEUE_REQUIRED = "Repository rule violations found\n\nChanges must be made through the merge queue"


class PullOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "pulls/list": self.list_pulls,
            "pulls/get": self.get_pull,
            "pulls/list-files": self.list_files,
            "pulls/list-reviews": self.list_reviews,
            "pulls/merge": self.merge,
            "pulls/update-branch": self.update_branch,
            "repos/list-pull-requests-associated-with-commit": self.pulls_of_commit,
        }

    def _pull(self, call: Call) -> tuple[Repo, Pull]:
        repo = self._repo(call)
        return repo, lookup(repo.pulls, call.params["pull_number"])

    def _pull_body(self, repo: Repo, pull: Pull, full: bool) -> dict[str, Any]:
        issue = repo.issues.get(pull.number)
        labels = repo.labels_of(issue) if issue else []
        head_repo = self.world.repos.get(pull.head_repo) if pull.head_repo else None
        return self.bodies.pull(repo, pull, head_repo, labels, full)

    async def list_pulls(self, call: Call) -> Reply:
        repo = self._repo(call)
        q = call.query
        pulls = list(repo.pulls.values())
        state = q.get("state", "open")
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if "head" in q:
            owner, _, ref = q["head"].partition(":")
            pulls = [p for p in pulls if p.head_ref == ref and (p.head_repo or "").split("/")[0] == owner]
        if "base" in q:
            pulls = [p for p in pulls if p.base_ref == q["base"]]
        pulls.sort(key=lambda p: p.number, reverse=q.get("direction", "desc") == "desc")
        return self._paged(call, pulls, lambda p: self._pull_body(repo, p, full=False))

    async def pulls_of_commit(self, call: Call) -> Reply:
        repo = self._repo(call)
        sha = call.params["commit_sha"]
        found = sorted((p for p in repo.pulls.values() if p.head_sha == sha and p.state == "open"),
                       key=lambda p: p.number)
        return self._paged(call, found, lambda p: self._pull_body(repo, p, full=False))

    async def get_pull(self, call: Call) -> Reply:
        repo, pull = self._pull(call)
        body = self._pull_body(repo, pull, full=True)
        if pull.computing_reads > 0:
            pull.computing_reads -= 1
            body.update(mergeable=None, rebaseable=None, mergeable_state="unknown")
        return Reply(200, body)

    async def list_files(self, call: Call) -> Reply:
        repo, pull = self._pull(call)
        return self._paged(call, pull.files, lambda f: self.bodies.pull_file(repo, pull.head_sha, f))

    async def list_reviews(self, call: Call) -> Reply:
        repo, pull = self._pull(call)
        return self._paged(call, pull.reviews, lambda r: self.bodies.review(repo, pull, r))

    def _refuse_merge(self, repo: Repo, pull: Pull, body: dict[str, Any]) -> None:
        method = body.get("merge_method", "merge")
        allowed = {
            "merge": repo.allow_merge_commit,
            "squash": repo.allow_squash_merge,
            "rebase": repo.allow_rebase_merge,
        }
        if pull.merged or pull.state != "open":
            raise HttpError(405, "Pull Request is not mergeable")
        if "sha" in body and body["sha"] != pull.head_sha:
            raise HttpError(409, "Head branch was modified. Review and try the merge again.")
        if requires_queue(repo, pull.base_ref):
            raise HttpError(405, QUEUE_REQUIRED)
        if pull.draft or not pull.mergeable or pull.mergeable_state in UNMERGEABLE_STATES:
            raise HttpError(405, "Pull Request is not mergeable")
        if not allowed.get(method, False):
            raise HttpError(405, f"{method.capitalize()} merges are not allowed on this repository.")

    async def merge(self, call: Call) -> Reply:
        repo, pull = self._pull(call)
        self._refuse_merge(repo, pull, call.body or {})
        git = git_of(repo)
        sha = merge_in_git(git, pull, call.body or {}, self._actor(call)[0]) if git else self.world.ids.next_sha()
        pull.merged, pull.state, pull.merge_commit_sha = True, "closed", sha
        pull.merged_at = pull.updated_at = self._now()
        pull.merged_by = self._actor(call)[0]
        pull.auto_merge = None
        leave_queue(repo, pull)
        if pull.number in repo.issues:
            repo.issues[pull.number].state = "closed"
        repo.branches[pull.base_ref] = sha
        if pull.base_ref in repo.files and pull.head_repo == repo.full_name and pull.head_ref in repo.files:
            repo.files[pull.base_ref] = dict(repo.files[pull.head_ref])
        reply = self.bodies.example("/repos/{owner}/{repo}/pulls/{pull_number}/merge", "put", "200")
        reply.update(sha=sha, merged=True, message="Pull Request successfully merged")
        return Reply(200, reply)

    async def update_branch(self, call: Call) -> Reply:
        repo, pull = self._pull(call)
        expected = (call.body or {}).get("expected_head_sha")
        if expected is not None and expected != pull.head_sha:
            raise invalid(
                "expected_head_sha does not match the pull request's head", "PullRequest", "expected_head_sha"
            )
        if pull.state != "open":
            raise invalid("Pull request is closed", "PullRequest", "state")
        git = git_of(repo)
        actor = self._actor(call)[0]
        pull.head_sha = update_branch_in_git(git, repo, pull, actor) if git else self.world.ids.next_sha()
        leave_queue(repo, pull)  # a push takes the pull request out of the merge queue
        pull.updated_at = self._now()
        head = self.world.repos.get(pull.head_repo or "")
        if head is not None and pull.head_ref in head.branches:
            head.branches[pull.head_ref] = pull.head_sha
        if pull.mergeable_state == "behind":
            pull.mergeable_state = "clean"
        reply = self.bodies.example("/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", "put", "202")
        reply["url"] = f"{self._repo_url(repo)}/pulls/{pull.number}"
        return Reply(202, reply)
