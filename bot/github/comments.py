"""Post, edit and react to issue and pull-request comments (GitHub's 65,536-character limit applied).

A comment that carries a hidden marker (an agent run's status comment, a command's reply, a merge notice) is
written once: `post_once` first looks for a comment of this App's bot that carries the marker (`find_marked`)
and edits it instead of posting another. That is what makes a handler safe to run again after a crash that
came between GitHub's answer to a post and the store recording the comment's id.

Every write passes the crash point `github.write.after` (bot/runtime/faults.py) once GitHub answered and
before the caller can record the result: the crash-window tests stop the process exactly there.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.runtime.faults import crash_point
from bot.runtime.redaction import redact

MAX_COMMENT = 65_536
_CUT = "\n\n… (cut to fit GitHub's comment limit)"


def fit_comment(body: str) -> str:
    body = redact(body)
    if len(body) <= MAX_COMMENT:
        return body
    return body[: MAX_COMMENT - len(_CUT)] + _CUT


async def post(gh: GitHubAPI, owner: str, repo: str, number: int, body: str) -> dict[str, Any]:
    result: dict[str, Any] = await gh.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        {"owner": owner, "repo": repo, "issue_number": number},
        data={"body": fit_comment(body)},
    )
    crash_point("github.write.after")
    return result


async def edit(gh: GitHubAPI, owner: str, repo: str, comment_id: int, body: str) -> dict[str, Any]:
    result: dict[str, Any] = await gh.patch(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"body": fit_comment(body)},
    )
    crash_point("github.write.after")
    return result


async def react(gh: GitHubAPI, owner: str, repo: str, comment_id: int, content: str) -> None:
    """`content` is one of GitHub's reactions: "eyes" (👀), "confused" (😕), "+1", "rocket", …"""
    await gh.post(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"content": content},
        accept="application/vnd.github+json",
    )
    crash_point("github.write.after")


async def react_to_review_comment(gh: GitHubAPI, owner: str, repo: str, comment_id: int, content: str) -> None:
    """A reaction on a pull request *review* comment (its own endpoint; the ids differ from issue comments)."""
    await gh.post(
        "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"content": content},
        accept="application/vnd.github+json",
    )
    crash_point("github.write.after")


async def reply_in_review_thread(
    gh: GitHubAPI, owner: str, repo: str, number: int, comment_id: int, body: str
) -> dict[str, Any]:
    """Answer a review comment in its own thread on the diff."""
    result: dict[str, Any] = await gh.post(
        "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
        {"owner": owner, "repo": repo, "pull_number": number, "comment_id": comment_id},
        data={"body": fit_comment(body)},
    )
    crash_point("github.write.after")
    return result


#: comments per page when looking for a marker (GitHub's maximum)
PAGE = 100


def _is_bot(comment: dict[str, Any]) -> bool:
    """Written by an App's bot user: a person quoting a marker never makes the bot adopt their comment."""
    user = comment.get("user") or {}
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


async def _page(gh: GitHubAPI, owner: str, repo: str, number: int, page: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = await gh.getitem(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments{?per_page,page}",
        {"owner": owner, "repo": repo, "issue_number": number, "per_page": PAGE, "page": page},
    )
    return items


async def find_marked(gh: GitHubAPI, owner: str, repo: str, number: int, marker: str) -> dict[str, Any] | None:
    """The newest comment of a bot on issue or PR `number` that carries `marker`, or None.

    GitHub lists a thread's comments oldest first and has no sort option for them, so the newest are on the
    last page: one page when the thread has at most 100 comments; otherwise the issue's `comments` count says
    which page is last, and pages are read from there back to the first, each newest first, until a match.
    """
    first = await _page(gh, owner, repo, number, 1)
    pages: list[int] = []
    if len(first) >= PAGE:
        issue = await gh.getitem(
            "/repos/{owner}/{repo}/issues/{issue_number}", {"owner": owner, "repo": repo, "issue_number": number}
        )
        pages = list(range(max(1, -(-int(issue.get("comments") or 0) // PAGE)), 1, -1))
    for page in pages:
        found = _newest_marked(await _page(gh, owner, repo, number, page), marker)
        if found is not None:
            return found
    return _newest_marked(first, marker)


def _newest_marked(items: list[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    for comment in reversed(items):
        if marker in (comment.get("body") or "") and _is_bot(comment):
            return comment
    return None


#: one lock per (thread, marker) in use: two tasks of this process writing the same marked comment at once
#: (a redelivered command and the job the reconciler queued again for it) would otherwise both find nothing
#: and both post; under the lock the second one finds the first one's comment and edits it
_MARKED: weakref.WeakValueDictionary[tuple[str, str, int, str], asyncio.Lock] = weakref.WeakValueDictionary()


def _lock_for(key: tuple[str, str, int, str]) -> asyncio.Lock:
    lock = _MARKED.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _MARKED[key] = lock
    return lock


async def post_once(
    gh: GitHubAPI, owner: str, repo: str, number: int, marker: str, body: str
) -> dict[str, Any]:
    """Post `body` (which carries `marker`) on `number`, unless a comment with the marker is there already:
    then that comment is adopted (edited to `body`, or left alone when it says exactly that). Calls for the
    same thread and marker take turns (see `_MARKED`)."""
    lock = _lock_for((owner.lower(), repo.lower(), number, marker))
    async with lock:
        return await _post_once(gh, owner, repo, number, marker, body)


async def _post_once(
    gh: GitHubAPI, owner: str, repo: str, number: int, marker: str, body: str
) -> dict[str, Any]:
    found = await find_marked(gh, owner, repo, number, marker)
    if found is None:
        return await post(gh, owner, repo, number, body)
    if found.get("body") == fit_comment(body):
        return found
    return await edit(gh, owner, repo, int(found["id"]), body)
