"""The merge notices of a pull request: one comment, edited in place, never the same words twice.

Why a pull request does not merge (blocked reasons, GitHub's refusals, an update of its branch, GitHub's
auto-merge) is said in a single comment per pull request, which carries a hidden marker. A notice that is
the one said last is not said again; a new one (other reasons, or the same reasons for a new head, since
the head SHA is part of every notice) replaces the comment's text. The comment's id is stored
(`notice_comment_id`); without one (the first notice, or a crash between posting and storing), a bot
comment carrying the marker is looked for and adopted before one is posted; a comment somebody deleted is
posted anew. Once the pull request merged, the comment (if there is one) is marked resolved in place
(`resolve`); none is posted just to say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.store.pull_requests import PullRequestStore

MARKER = "<!-- codegen-bot:merge-notice -->"


@dataclass
class MergeNotices:
    prs: PullRequestStore

    async def say(self, gh: GitHubAPI, repo: str, number: int, notice: str) -> bool:
        """Say `notice` on the pull request unless it was said last; True when something was written."""
        state = await self.prs.get(repo, number)
        if state.last_notice == notice:
            return False
        owner, name = repo.split("/", 1)
        body = f"{notice}\n\n{MARKER}"
        if state.notice_comment_id is not None:
            try:
                await comments.edit(gh, owner, name, state.notice_comment_id, body)
            except BadRequest as exc:
                if exc.status_code != 404:
                    raise
            else:
                await self.prs.set(repo, number, last_notice=notice)
                return True
        # no comment known (first notice, or a crash before its id was stored): adopt one carrying the marker
        posted = await comments.post_once(gh, owner, name, number, MARKER, body)
        await self.prs.set(repo, number, last_notice=notice, notice_comment_id=int(posted["id"]))
        return True

    async def resolve(self, gh: GitHubAPI, repo: str, number: int, text: str) -> bool:
        """Mark the PR's notice resolved (after a merge); True when there was one to mark."""
        state = await self.prs.get(repo, number)
        if state.notice_comment_id is None or state.last_notice == text:
            return False
        owner, name = repo.split("/", 1)
        try:
            await comments.edit(gh, owner, name, state.notice_comment_id, f"{text}\n\n{MARKER}")
        except BadRequest as exc:
            if exc.status_code != 404:
                raise
            return False  # somebody deleted it: nothing to mark
        await self.prs.set(repo, number, last_notice=text)
        return True
