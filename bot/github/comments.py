"""Post, edit and react to issue and pull-request comments (GitHub's 65,536-character limit applied)."""

from __future__ import annotations

from typing import Any

from gidgethub.abc import GitHubAPI

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
    return result


async def edit(gh: GitHubAPI, owner: str, repo: str, comment_id: int, body: str) -> dict[str, Any]:
    result: dict[str, Any] = await gh.patch(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"body": fit_comment(body)},
    )
    return result


async def react(gh: GitHubAPI, owner: str, repo: str, comment_id: int, content: str) -> None:
    """`content` is one of GitHub's reactions: "eyes" (👀), "confused" (😕), "+1", "rocket", …"""
    await gh.post(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"content": content},
        accept="application/vnd.github+json",
    )


async def react_to_review_comment(gh: GitHubAPI, owner: str, repo: str, comment_id: int, content: str) -> None:
    """A reaction on a pull request *review* comment (its own endpoint; the ids differ from issue comments)."""
    await gh.post(
        "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"content": content},
        accept="application/vnd.github+json",
    )


async def reply_in_review_thread(
    gh: GitHubAPI, owner: str, repo: str, number: int, comment_id: int, body: str
) -> dict[str, Any]:
    """Answer a review comment in its own thread on the diff."""
    result: dict[str, Any] = await gh.post(
        "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
        {"owner": owner, "repo": repo, "pull_number": number, "comment_id": comment_id},
        data={"body": fit_comment(body)},
    )
    return result
