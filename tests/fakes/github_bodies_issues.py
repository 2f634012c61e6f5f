"""Bodies of issues, issue comments and reactions (see github_bodies.py)."""

from __future__ import annotations

from typing import Any

from tests.fakes.github_bodies_base import HTML, BodiesBase, iso, node_id
from tests.fakes.github_state import Comment, Issue, IssueEvent, Reaction, Repo


class IssueBodies(BodiesBase):
    def issue(
        self, repo: Repo, issue: Issue, comments: int, closed_at: float | None = None
    ) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/{issue_number}", "get", "200")
        base = f"{self.repo_url(repo)}/issues/{issue.number}"
        body.update(
            id=issue.id,
            node_id=node_id("Issue", issue.id),
            url=base,
            repository_url=self.repo_url(repo),
            labels_url=f"{base}/labels{{/name}}",
            comments_url=f"{base}/comments",
            events_url=f"{base}/events",
            html_url=f"{HTML}/{repo.full_name}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
            number=issue.number,
            state=issue.state,
            state_reason=None,
            title=issue.title,
            body=issue.body,
            user=self.user(issue.user),
            labels=[self.label(repo, label) for label in repo.labels_of(issue)],
            assignee=None,
            assignees=[],
            milestone=None,
            locked=False,
            active_lock_reason=None,
            comments=comments,
            closed_at=iso(closed_at),
            closed_by=None,
            created_at=iso(issue.created_at),
            updated_at=iso(issue.updated_at),
            author_association="CONTRIBUTOR",
        )
        body.pop("pinned_comment", None)
        if issue.is_pull:
            body["pull_request"] = {
                "url": f"{self.repo_url(repo)}/pulls/{issue.number}",
                "html_url": f"{HTML}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{HTML}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": None,
            }
        else:
            body.pop("pull_request", None)
        return body

    def comment(self, repo: Repo, comment: Comment) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/comments/{comment_id}", "get", "200")
        body.update(
            id=comment.id,
            node_id=node_id("IssueComment", comment.id),
            url=f"{self.repo_url(repo)}/issues/comments/{comment.id}",
            html_url=f"{HTML}/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
            issue_url=f"{self.repo_url(repo)}/issues/{comment.issue_number}",
            body=comment.body,
            user=self.user(comment.user, comment.user_type),
            created_at=iso(comment.created_at),
            updated_at=iso(comment.updated_at),
            author_association=association(repo, comment.user, comment.user_type),
        )
        body.pop("pin", None)
        return body

    def issue_event(self, repo: Repo, event: IssueEvent) -> dict[str, Any]:
        """A `labeled-issue-event` / `unlabeled-issue-event` (the only kinds the fake records)."""
        body = self.example("/repos/{owner}/{repo}/issues/{issue_number}/events", "get", "200")[0]
        body.update(
            id=event.id,
            node_id=node_id("LabeledEvent", event.id),
            url=f"{self.repo_url(repo)}/issues/events/{event.id}",
            actor=self.user(event.actor, event.actor_type),
            event=event.event,
            commit_id=None,
            commit_url=None,
            created_at=iso(event.created_at),
            performed_via_github_app=None,
            label={"name": event.label or "", "color": "ededed"},
        )
        return body

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        body = self.example("/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "post", "201")
        body.update(
            id=reaction.id,
            node_id=node_id("Reaction", reaction.id),
            user=self.user(reaction.user),
            content=reaction.content,
            created_at=iso(reaction.created_at),
        )
        return body


def association(repo: Repo, login: str, user_type: str = "User") -> str:
    """GitHub's `author_association` of a comment's author: OWNER for the repository's owner, MEMBER or
    COLLABORATOR for someone with a role on it (org member / outside collaborator), else NONE.
    Source: docs.github.com "author_association" in the REST issue-comment schema (CONTRIBUTOR and
    FIRST_TIMER depend on commit history, which the fake does not model)."""
    if user_type == "Bot":
        return "NONE"
    if login.lower() == repo.owner.lower():
        return "OWNER"
    role = repo.collaborators.get(login)
    if role in (None, "none"):
        return "NONE"
    return "MEMBER" if repo.owner_type == "Organization" else "COLLABORATOR"
