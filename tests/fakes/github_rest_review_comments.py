"""REST handlers of the fake GitHub for pull request review comments: list, reply in the thread, react.

GitHub's rules modelled here (docs.github.com "Pull request review comments" and "Reactions"):
- review comments live on a pull request (not its issue): `GET /repos/{o}/{r}/pulls/{n}/comments` lists
  them (paginated, oldest first), and they are a different id space from issue comments — an issue
  comment's id is a 404 on the review-comment endpoints and vice versa;
- a reply (`POST .../pulls/{n}/comments/{comment_id}/replies`) joins the thread of `comment_id`; replying
  to a reply is allowed and joins the same thread (`in_reply_to_id` is the thread's first comment);
- reactions (`POST .../pulls/comments/{comment_id}/reactions`): 201 when new, 200 with the existing
  reaction when the same user already left the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.github_bodies_base import HTML, iso, node_id
from tests.fakes.github_rest_base import Call, Handler, Operations, Reply, invalid, lookup, not_found
from tests.fakes.github_state import Reaction, Repo

MAX_BODY = 65536


@dataclass
class ReviewComment:
    id: int
    repo: str
    pull_number: int
    body: str
    user: str
    user_type: str
    path: str
    line: int
    commit_id: str
    created_at: float
    in_reply_to: int | None = None
    reactions: list[Reaction] = field(default_factory=list)


class ReviewCommentOperations(Operations):
    def handlers(self) -> dict[str, Handler]:
        return {
            "pulls/list-review-comments": self.list_comments,
            "pulls/create-reply-for-review-comment": self.reply,
            "reactions/create-for-pull-request-review-comment": self.react,
        }

    def _comment(self, call: Call) -> tuple[Repo, ReviewComment]:
        repo = self._repo(call)
        return repo, lookup(self.world.review_comments, call.params["comment_id"], repo)

    def body(self, repo: Repo, comment: ReviewComment) -> dict[str, Any]:
        body = self.bodies.example("/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
                                   "post", "201")
        base = f"{self.bodies.repo_url(repo)}/pulls"
        body.update(
            id=comment.id, node_id=node_id("PullRequestReviewComment", comment.id),
            url=f"{base}/comments/{comment.id}", body=comment.body, path=comment.path, line=comment.line,
            commit_id=comment.commit_id, original_commit_id=comment.commit_id,
            user=self.bodies.user(comment.user, comment.user_type),
            created_at=iso(comment.created_at), updated_at=iso(comment.created_at),
            html_url=f"{HTML}/{repo.full_name}/pull/{comment.pull_number}#discussion_r{comment.id}",
            pull_request_url=f"{base}/{comment.pull_number}",
        )
        if comment.in_reply_to is not None:
            body["in_reply_to_id"] = comment.in_reply_to
        else:
            body.pop("in_reply_to_id", None)
        return body

    async def list_comments(self, call: Call) -> Reply:
        repo = self._repo(call)
        lookup(repo.pulls, call.params["pull_number"])
        number = int(call.params["pull_number"])
        found = sorted((c for c in self.world.review_comments.values()
                        if c.repo == repo.full_name and c.pull_number == number), key=lambda c: c.id)
        return self._paged(call, found, lambda c: self.body(repo, c))

    async def reply(self, call: Call) -> Reply:
        repo, parent = self._comment(call)
        if parent.pull_number != int(call.params["pull_number"]):
            raise not_found()  # the comment belongs to another pull request
        if len(call.body["body"]) > MAX_BODY:
            raise invalid("Body is too long (maximum is 65536 characters)", "PullRequestReviewComment", "body")
        login, kind = self._actor(call)
        thread = parent.in_reply_to if parent.in_reply_to is not None else parent.id
        comment = ReviewComment(self.world.ids.next_id(), repo.full_name, parent.pull_number, call.body["body"],
                                login, kind, parent.path, parent.line, parent.commit_id, self._now(), thread)
        self.world.review_comments[comment.id] = comment
        return Reply(201, self.body(repo, comment))

    async def react(self, call: Call) -> Reply:
        _, comment = self._comment(call)
        return self._react(call, comment.reactions)
