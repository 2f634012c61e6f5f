"""Create and update check runs within GitHub's limits.

GitHub caps `output.title` at 255 characters (decision here; GitHub documents no cap but truncates in the
UI), `output.summary` and `output.text` at 65,535 characters each — counted in UTF-8 **bytes** (a longer
one is a 422) — and takes at most 50 annotations per request: longer texts are cut with a note, at a
character boundary within the byte limit, and annotations are sent in batches of 50 by successive updates
(GitHub accumulates them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.runtime.faults import crash_point
from bot.runtime.redaction import redact

MAX_TEXT = 65_535
MAX_TITLE = 255
ANNOTATIONS_PER_REQUEST = 50
_CUT = "\n\n… (cut to fit GitHub's limit)"


_EARLIER = "… (earlier output cut)\n"


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(text: str, limit: int = MAX_TEXT, *, keep: str = "head") -> str:
    """Redact secrets, then cut `text` to `limit` UTF-8 bytes, keeping its head (or its tail), never
    splitting a character."""
    text = redact(text)
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    if keep == "tail":
        room = limit - _bytes(_EARLIER)
        return _EARLIER + data[-room:].decode("utf-8", errors="ignore")
    return data[: limit - _bytes(_CUT)].decode("utf-8", errors="ignore") + _CUT


def fit_title(text: str) -> str:
    """A title: at most `MAX_TITLE` characters."""
    text = redact(text)
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def output(
    title: str, summary: str, text: str | None = None, annotations: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {"title": fit_title(title), "summary": fit(summary)}
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
    crash_point("github.write.after", body.get("name"))  # created on GitHub, its id not recorded yet
    await _send_rest(gh, owner, repo, created["id"], body.get("output", {}), annotations)
    return created


async def create_once(gh: GitHubAPI, owner: str, repo: str, body: dict[str, Any]) -> dict[str, Any]:
    """`create`, unless a check run of this name with this `external_id` is on the commit already (the
    event handled again, after a crash or for another action on the same head): then that one is updated
    to `body`. `body` must carry `external_id`; the lookup is one request (`check_name`, every re-run)."""
    found = [
        run async for run in gh.getiter(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name,filter,per_page}",
            {"owner": owner, "repo": repo, "ref": body["head_sha"], "check_name": body["name"], "filter": "all",
             "per_page": 100},
            iterable_key="check_runs",
        )
        if run.get("external_id") == body["external_id"]
    ]
    if not found:
        return await create(gh, owner, repo, body)
    changes = {k: v for k, v in body.items() if k != "head_sha"}
    return await update(gh, owner, repo, int(found[0]["id"]), changes)


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
    crash_point("github.write.after")
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


async def list_for_ref(gh: GitHubAPI, owner: str, repo: str, ref: str) -> list[dict[str, Any]]:
    """Every check run on `ref` (`filter=all`: re-run ones too, not only the latest of each name), every page.
    One request for up to 100 check runs."""
    return [
        run async for run in gh.getiter(
            "/repos/{owner}/{repo}/commits/{ref}/check-runs{?filter,per_page}",
            {"owner": owner, "repo": repo, "ref": ref, "filter": "all", "per_page": 100},
            iterable_key="check_runs",
        )
    ]
