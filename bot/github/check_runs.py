"""Create and update check runs within GitHub's limits.

GitHub caps `output.title` at 255 characters (decision here; GitHub documents no cap but truncates in the
UI), `output.summary` and `output.text` at 65,535 characters each, and takes at most 50 annotations per
request: longer texts are cut with a note, and annotations are sent in batches of 50 by successive
updates (GitHub accumulates them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.runtime.redaction import redact

MAX_TEXT = 65_535
MAX_TITLE = 255
ANNOTATIONS_PER_REQUEST = 50
_CUT = "\n\n… (cut to fit GitHub's limit)"


def fit(text: str, limit: int = MAX_TEXT, *, keep: str = "head") -> str:
    """Redact secrets, then cut `text` to `limit` characters, keeping its head (or its tail)."""
    text = redact(text)
    if len(text) <= limit:
        return text
    room = limit - len(_CUT)
    if keep == "tail":
        return "… (earlier output cut)\n" + text[-(room - 24) :]
    return text[:room] + _CUT


def output(
    title: str, summary: str, text: str | None = None, annotations: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {"title": fit(title, MAX_TITLE), "summary": fit(summary)}
    if text:
        out["text"] = fit(text, keep="tail")
    if annotations:
        out["annotations"] = list(annotations)
    return out


async def create(gh: GitHubAPI, owner: str, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a check run; annotations beyond the first 50 follow in updates."""
    annotations: list[dict[str, Any]] = list(body.get("output", {}).get("annotations", []))
    first = dict(body)
    if annotations:
        first["output"] = {**body["output"], "annotations": annotations[:ANNOTATIONS_PER_REQUEST]}
    created: dict[str, Any] = await gh.post(
        "/repos/{owner}/{repo}/check-runs", {"owner": owner, "repo": repo}, data=first
    )
    await _send_rest(gh, owner, repo, created["id"], body.get("output", {}), annotations)
    return created


async def update(
    gh: GitHubAPI, owner: str, repo: str, check_run_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    annotations: list[dict[str, Any]] = list(body.get("output", {}).get("annotations", []))
    first = dict(body)
    if annotations:
        first["output"] = {**body["output"], "annotations": annotations[:ANNOTATIONS_PER_REQUEST]}
    updated: dict[str, Any] = await gh.patch(
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": owner, "repo": repo, "check_run_id": check_run_id},
        data=first,
    )
    await _send_rest(gh, owner, repo, check_run_id, body.get("output", {}), annotations)
    return updated


async def _send_rest(
    gh: GitHubAPI,
    owner: str,
    repo: str,
    check_run_id: int,
    out: dict[str, Any],
    annotations: list[dict[str, Any]],
) -> None:
    for start in range(ANNOTATIONS_PER_REQUEST, len(annotations), ANNOTATIONS_PER_REQUEST):
        batch = annotations[start : start + ANNOTATIONS_PER_REQUEST]
        await gh.patch(
            "/repos/{owner}/{repo}/check-runs/{check_run_id}",
            {"owner": owner, "repo": repo, "check_run_id": check_run_id},
            data={"output": {"title": out["title"], "summary": out["summary"], "annotations": batch}},
        )
