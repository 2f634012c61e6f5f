"""REST handlers of the fake GitHub for issues: an issue, its comments, its labels, comment reactions.

Decisions:
- A pull request is also an issue (same number), so these handlers serve pull requests too.
- Comment bodies of more than 65536 characters (characters, not bytes) are 422, like GitHub
  ("Body is too long (maximum is 65536 characters)").
- Adding a label the repository lacks creates it (GitHub does); removing one the issue lacks is 404.
- A reaction the same user already left is answered 200 with the existing one (201 when new).
- Adding and removing labels records `labeled` / `unlabeled` events with the caller as `actor`, listed
  oldest first by `GET .../issues/{n}/events` (docs.github.com "List issue events": label events carry
  the label's name and the user who added or removed it).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.github_rest_base import Call, Handler, HttpError, Operations, Reply, invalid, lookup
from tests.fakes.github_state import Comment, Issue, IssueEvent, Label, Repo

MAX_COMMENT = 65536


class IssueOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "issues/get": self.get_issue,
            "issues/list-comments": self.list_comments,
            "issues/create-comment": self.create_comment,
            "issues/add-labels": self.add_labels,
            "issues/remove-label": self.remove_label,
            "issues/list-events": self.list_events,
            "issues/update-comment": self.update_comment,
            "issues/get-comment": self.get_comment,
            "reactions/create-for-issue-comment": self.create_reaction,
        }

    def _issue(self, call: Call) -> tuple[Repo, Issue]:
        repo = self._repo(call)
        return repo, lookup(repo.issues, call.params["issue_number"])

    def _comment(self, call: Call) -> tuple[Repo, Comment]:
        repo = self._repo(call)
        return repo, lookup(self.world.comments, call.params["comment_id"], repo)

    def _comments_on(self, repo: Repo, number: int) -> list[Comment]:
        return sorted(
            (c for c in self.world.comments.values() if c.repo == repo.full_name and c.issue_number == number),
            key=lambda c: c.id,
        )

    def _comment_text(self, body: dict[str, Any]) -> str:
        if len(body["body"]) > MAX_COMMENT:
            raise invalid("Body is too long (maximum is 65536 characters)", "IssueComment", "body")
        return body["body"]

    def _labels(self, repo: Repo, issue: Issue) -> Reply:
        return Reply(200, [self.bodies.label(repo, label) for label in repo.labels_of(issue)])

    async def get_issue(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        return Reply(200, self.bodies.issue(repo, issue, len(self._comments_on(repo, issue.number))))

    async def list_comments(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        return self._paged(call, self._comments_on(repo, issue.number), lambda c: self.bodies.comment(repo, c))

    async def create_comment(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        text = self._comment_text(call.body)
        login, kind = self._actor(call)
        comment = self.world.add_comment(repo.full_name, issue.number, text, login, kind)
        return Reply(201, self.bodies.comment(repo, comment))

    async def get_comment(self, call: Call) -> Reply:
        repo, comment = self._comment(call)
        return Reply(200, self.bodies.comment(repo, comment))

    async def update_comment(self, call: Call) -> Reply:
        repo, comment = self._comment(call)
        comment.body = self._comment_text(call.body)
        comment.updated_at = self._now()
        return Reply(200, self.bodies.comment(repo, comment))

    async def create_reaction(self, call: Call) -> Reply:
        _, comment = self._comment(call)
        return self._react(call, comment.reactions)

    async def add_labels(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        names = [item if isinstance(item, str) else item["name"] for item in (call.body or {}).get("labels", [])]
        for name in names:
            if name not in repo.labels:
                repo.labels[name] = Label(self.world.ids.next_id(), name)
            if name not in issue.labels:
                issue.labels.append(name)
                self._record(call, issue, "labeled", name)
        issue.updated_at = self._now()
        return self._labels(repo, issue)

    async def remove_label(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        name = call.params["name"]
        if name not in issue.labels:
            raise HttpError(404, "Label does not exist")
        issue.labels.remove(name)
        self._record(call, issue, "unlabeled", name)
        issue.updated_at = self._now()
        return self._labels(repo, issue)

    def _record(self, call: Call, issue: Issue, event: str, label: str) -> None:
        login, kind = self._actor(call)
        issue.events.append(IssueEvent(self.world.ids.next_id(), event, login, label, self._now(), kind))

    async def list_events(self, call: Call) -> Reply:
        repo, issue = self._issue(call)
        return self._paged(call, issue.events, lambda e: self.bodies.issue_event(repo, e))
