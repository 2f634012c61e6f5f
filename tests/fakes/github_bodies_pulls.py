"""Bodies of pull requests, their files and reviews (see github_bodies.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.github_bodies_base import HTML, BodiesBase, iso, node_id
from tests.fakes.github_state import Label, Pull, PullFile, Repo, Review

# _links relation -> the body field with the same URL
PULL_LINKS = (
    ("self", "url"),
    ("html", "html_url"),
    ("issue", "issue_url"),
    ("comments", "comments_url"),
    ("review_comments", "review_comments_url"),
    ("review_comment", "review_comment_url"),
    ("commits", "commits_url"),
    ("statuses", "statuses_url"),
)


class PullBodies(BodiesBase):
    def _branch(self, repo: Repo | None, ref: str, sha: str, fallback_owner: str) -> dict[str, Any]:
        owner = repo.owner if repo else fallback_owner
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(owner, repo.owner_type if repo else None),
            "repo": self.repo_simple(repo) if repo else None,
        }

    def _pull_urls(self, repo: Repo, pull: Pull) -> dict[str, str]:
        api = self.repo_url(repo)
        html = f"{HTML}/{repo.full_name}/pull/{pull.number}"
        return {
            "url": f"{api}/pulls/{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{api}/issues/{pull.number}",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
        }

    def _pull_detail(self, pull: Pull) -> dict[str, Any]:
        """The fields only the single pull request (not the list) has."""
        return {
            "merged": pull.merged,
            "mergeable": pull.mergeable,
            "mergeable_state": pull.mergeable_state,
            "rebaseable": pull.mergeable,
            "merged_by": self.user(pull.merged_by) if pull.merged_by else None,
            "maintainer_can_modify": pull.maintainer_can_modify,
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": sum(f.additions for f in pull.files),
            "deletions": sum(f.deletions for f in pull.files),
            "changed_files": len(pull.files),
        }

    def pull(
        self, repo: Repo, pull: Pull, head_repo: Repo | None, labels: list[Label], full: bool
    ) -> dict[str, Any]:
        """A pull request: `full` for GET .../pulls/{n}, else as listed (without the detail fields)."""
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}", "get", "200")
        body.update(
            self._pull_urls(repo, pull),
            id=pull.id,
            node_id=pull.node_id,
            number=pull.number,
            state=pull.state,
            locked=False,
            active_lock_reason=None,
            title=pull.title,
            body=pull.body,
            user=self.user(pull.user),
            # the pull request schema's labels, unlike the issue's, have a non-nullable description
            labels=[dict(self.label(repo, label), description=label.description or "") for label in labels],
            milestone=None,
            assignee=None,
            assignees=[],
            requested_reviewers=[],
            requested_teams=[],
            created_at=iso(pull.created_at),
            updated_at=iso(pull.updated_at),
            closed_at=iso(pull.merged_at) if pull.state == "closed" else None,
            merged_at=iso(pull.merged_at),
            merge_commit_sha=pull.merge_commit_sha,
            draft=pull.draft,
            head=self._branch(head_repo, pull.head_ref, pull.head_sha, repo.owner),
            base=self._branch(repo, pull.base_ref, pull.base_sha, repo.owner),
            author_association="CONTRIBUTOR",
            auto_merge=self._auto_merge(pull.auto_merge),
        )
        for rel, key in PULL_LINKS:
            body["_links"][rel]["href"] = body[key]
        detail = self._pull_detail(pull)
        if full:
            body.update(detail)
        else:
            for key in detail:
                body.pop(key, None)
        return body

    def _auto_merge(self, state: dict[str, Any] | None) -> dict[str, Any] | None:
        if state is None:
            return None
        return {
            "enabled_by": self.user(state["enabled_by"]["login"]),
            "merge_method": state["merge_method"],
            "commit_title": state.get("commit_title") or "",
            "commit_message": state.get("commit_message") or "",
        }

    def pull_file(self, repo: Repo, ref: str, f: PullFile) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}/files", "get", "200")[0]
        body.update(
            sha=f.sha,
            filename=f.filename,
            status=f.status,
            additions=f.additions,
            deletions=f.deletions,
            changes=f.additions + f.deletions,
            blob_url=f"{HTML}/{repo.full_name}/blob/{ref}/{f.filename}",
            raw_url=f"{HTML}/{repo.full_name}/raw/{ref}/{f.filename}",
            contents_url=f"{self.repo_url(repo)}/contents/{f.filename}?ref={ref}",
        )
        if f.patch is None:
            body.pop("patch", None)
        else:
            body["patch"] = f.patch
        if f.previous_filename:
            body["previous_filename"] = f.previous_filename
        return body

    def review(self, repo: Repo, pull: Pull, review: Review) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "get", "200")[0]
        html = f"{HTML}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review.id}"
        body.update(
            id=review.id,
            node_id=node_id("PullRequestReview", review.id),
            user=self.user(review.user),
            body=review.body,
            state=review.state,
            commit_id=review.commit_id,
            html_url=html,
            pull_request_url=f"{self.repo_url(repo)}/pulls/{pull.number}",
            submitted_at=iso(review.submitted_at),
            author_association="COLLABORATOR",
        )
        body["_links"] = {"html": {"href": html}, "pull_request": {"href": body["pull_request_url"]}}
        return body
