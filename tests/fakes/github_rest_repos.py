"""REST handlers of the fake GitHub for repository content and settings: contents, comparisons,
collaborator permissions, branch protection and rules, and deleting a branch.

Decisions:
- Contents are served from `Repo.files` at a branch or sha: a file (base64, wrapped like GitHub's) or a
  directory listing; an unknown ref is 404 "No commit found for the ref ...".
- A comparison a test did not set is "identical" when both sides resolve to the same sha, else "ahead"
  by one; `Accept: application/vnd.github.diff` (or .patch) answers the comparison's diff as text.
- A repository backed by git (FakeGitHub.back_with_git) compares in git instead: github_git.py.
- Branch rules come back with the repository as their ruleset source.
- Deleting a ref other than an existing `heads/<branch>` is 422 "Reference does not exist".
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

from tests.fakes.github_git import GitComparison, commit_entries, compare_in_git, git_of
from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, not_found
from tests.fakes.github_state import Comparison, Protection, Repo, blob_sha

DIFF_MEDIA_TYPES = ("application/vnd.github.diff", "application/vnd.github.patch")
PROTECTION = "/repos/{owner}/{repo}/branches/{branch}/protection"


class RepoOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "repos/get-content": self.get_content,
            "repos/compare-commits-with-basehead": self.compare,
            "repos/get-collaborator-permission-level": self.permission,
            "repos/get-branch-protection": self.protection,
            "repos/get-status-checks-protection": self.status_checks,
            "repos/get-branch-rules": self.branch_rules,
            "git/delete-ref": self.delete_ref,
        }

    async def get_content(self, call: Call) -> Reply:
        repo = self._repo(call)
        ref = call.query.get("ref") or repo.default_branch
        tree = repo.files_at(ref)
        if tree is None:
            raise HttpError(404, f"No commit found for the ref {ref}")
        path = call.params["path"].strip("/")
        if path in tree:
            content = tree[path]
            return Reply(200, self.bodies.content_file(repo, path, ref, content, blob_sha(content)))
        prefix = f"{path}/" if path else ""
        children: dict[str, tuple[str, int, str]] = {}
        for file_path, content in tree.items():
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            child = rest.split("/", 1)[0]
            if "/" in rest:
                children.setdefault(child, ("dir", 0, blob_sha(child.encode())))
            else:
                children[child] = ("file", len(content), blob_sha(content))
        if not children:
            raise not_found()
        entries = [
            self.bodies.content_entry(repo, f"{prefix}{name}", ref, kind, size, sha)
            for name, (kind, size, sha) in sorted(children.items())
        ]
        return Reply(200, entries)

    def _comparison(self, repo: Repo, base: str, head: str) -> tuple[str, str, Comparison]:
        """(base sha, head sha, comparison): from git for a backed repository, else preset or default."""
        git = git_of(repo)
        if git is not None:
            found = compare_in_git(git, base, head)
            return found.base_sha, found.head_sha, found
        base_sha = repo.resolve_ref(base.split(":")[-1])
        head_sha = repo.resolve_ref(head.split(":")[-1])
        comparison = repo.comparisons.get((base, head)) or repo.comparisons.get((base_sha, head_sha))
        if comparison is None:
            comparison = Comparison("identical", 0, 0) if base_sha == head_sha else Comparison()
        return base_sha, head_sha, comparison

    async def compare(self, call: Call) -> Reply:
        repo = self._repo(call)
        base, sep, head = call.params["basehead"].partition("...")
        if not sep:
            raise not_found()
        base_sha, head_sha, comparison = self._comparison(repo, base, head)
        accept = next((v for k, v in call.headers.items() if k.lower() == "accept"), "")
        for media in DIFF_MEDIA_TYPES:
            if media in accept:
                return Reply(200, raw=comparison.diff.encode(), content_type=f"{media}; charset=utf-8")
        body = self.bodies.example("/repos/{owner}/{repo}/compare/{basehead}", "get", "200")
        html = f"https://github.com/{repo.full_name}/compare/{base}...{head}"
        body.update(
            url=f"{self._repo_url(repo)}/compare/{base}...{head}",
            html_url=html,
            permalink_url=html,
            diff_url=f"{html}.diff",
            patch_url=f"{html}.patch",
            status=comparison.status,
            ahead_by=comparison.ahead_by,
            behind_by=comparison.behind_by,
            total_commits=comparison.ahead_by,
            files=[self.bodies.pull_file(repo, head_sha, f) for f in comparison.files],
        )
        body["base_commit"]["sha"] = base_sha
        body["merge_base_commit"]["sha"] = base_sha
        commits = body.get("commits") or []
        body["commits"] = [dict(commits[0], sha=head_sha)] if commits and comparison.ahead_by else []
        if isinstance(comparison, GitComparison):
            body["merge_base_commit"]["sha"] = comparison.merge_base_sha
            body["commits"] = commit_entries(commits[0], comparison.commits, self._repo_url(repo),
                                             f"https://github.com/{repo.full_name}") if commits else []
        return Reply(200, body)

    async def permission(self, call: Call) -> Reply:
        repo = self._repo(call)
        login = call.params["username"]
        role = repo.collaborators.get(login, "none")
        return Reply(200, self.bodies.permission(login, role))

    def _protection(self, call: Call) -> tuple[Repo, str, Protection]:
        repo = self._repo(call)
        branch = call.params["branch"]
        protection = repo.protections.get(branch)
        if protection is None:
            raise HttpError(404, "Branch not protected")
        return repo, branch, protection

    def _protection_url(self, repo: Repo, branch: str) -> str:
        return f"{self._repo_url(repo)}/branches/{quote(branch, safe='')}/protection"

    def _status_checks_body(self, repo: Repo, branch: str, protection: Protection) -> dict[str, Any]:
        contexts = protection.required_contexts or []
        url = f"{self._protection_url(repo, branch)}/required_status_checks"
        body = self.bodies.example(f"{PROTECTION}/required_status_checks", "get", "200")
        body.update(
            url=url,
            strict=protection.strict,
            contexts=list(contexts),
            checks=[{"context": c, "app_id": None} for c in contexts],
            contexts_url=f"{url}/contexts",
        )
        return body

    async def protection(self, call: Call) -> Reply:
        repo, branch, protection = self._protection(call)
        body = self.bodies.example(PROTECTION, "get", "200")
        url = body["url"] = self._protection_url(repo, branch)
        if protection.required_contexts is None:
            body.pop("required_status_checks", None)
        else:
            rsc = self._status_checks_body(repo, branch, protection)
            rsc.pop("enforcement_level", None)
            body["required_status_checks"] = rsc
        body["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": protection.enforce_admins}
        if protection.required_approving_review_count is None:
            body.pop("required_pull_request_reviews", None)
        else:
            body["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews",
                "dismiss_stale_reviews": False,
                "require_code_owner_reviews": False,
                "required_approving_review_count": protection.required_approving_review_count,
                "require_last_push_approval": False,
            }
        body.pop("restrictions", None)
        for key in ("required_linear_history", "allow_force_pushes", "allow_deletions", "lock_branch"):
            body[key] = {"enabled": False}
        return Reply(200, body)

    async def status_checks(self, call: Call) -> Reply:
        repo, branch, protection = self._protection(call)
        if protection.required_contexts is None:
            raise HttpError(404, "Required status checks not enabled")
        return Reply(200, self._status_checks_body(repo, branch, protection))

    async def branch_rules(self, call: Call) -> Reply:
        repo = self._repo(call)
        source = {"ruleset_source_type": "Repository", "ruleset_source": repo.full_name, "ruleset_id": 1}
        rules = repo.rules.get(call.params["branch"], [])
        return self._paged(call, rules, lambda rule: {**source, **copy.deepcopy(rule)})

    async def delete_ref(self, call: Call) -> Reply:
        repo = self._repo(call)
        ref = call.params["ref"]
        if not ref.startswith("heads/") or ref[len("heads/") :] not in repo.branches:
            raise HttpError(422, "Reference does not exist", [])
        branch = ref[len("heads/") :]
        del repo.branches[branch]
        repo.files.pop(branch, None)
        repo.deleted_refs.append(ref)
        return Reply(204)
