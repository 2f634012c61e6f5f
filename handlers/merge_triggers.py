"""Events that can change whether a pull request merges; each schedules a (debounced) evaluation.

check_run / check_suite completed, status, pull_request opened / synchronize / labeled / unlabeled /
ready_for_review / reopened, pull_request_review submitted / dismissed.

The `codegen: automerge` label counts only when a user with write permission adds it: added by anyone
else, the bot removes it and says why.
"""

from __future__ import annotations

from typing import Any

from gidgethub import routing, sansio

from bot import issue_comments
from bot.context import Context
from handlers.rules.merge import AUTOMERGE_LABEL
from handlers.rules.permissions import permission_at_least

router = routing.Router()


async def _schedule(ctx: Context, event: sansio.Event, numbers: list[int]) -> None:
    repository = event.data["repository"]
    owner, name, full_name = repository["owner"]["login"], repository["name"], repository["full_name"]
    installation_id = (event.data.get("installation") or {}).get("id") or await ctx.repos.installation_id(owner, name)
    if installation_id is None:
        return
    for number in sorted(set(numbers)):
        await ctx.merges.schedule(full_name, number, int(installation_id))


def _pr_numbers(items: list[dict[str, Any]] | None, repo_id: int | None) -> list[int]:
    """PR references from check payloads, only those whose base is this repository."""
    return [
        int(pr["number"])
        for pr in items or []
        if repo_id is None or ((pr.get("base") or {}).get("repo") or {}).get("id") in (None, repo_id)
    ]


@router.register("check_run", action="completed")
async def on_check_run(event: sansio.Event, ctx: Context) -> None:
    repo_id = event.data["repository"].get("id")
    await _schedule(ctx, event, _pr_numbers(event.data["check_run"].get("pull_requests"), repo_id))


@router.register("check_suite", action="completed")
async def on_check_suite(event: sansio.Event, ctx: Context) -> None:
    repo_id = event.data["repository"].get("id")
    await _schedule(ctx, event, _pr_numbers(event.data["check_suite"].get("pull_requests"), repo_id))


@router.register("status")
async def on_status(event: sansio.Event, ctx: Context) -> None:
    repository = event.data["repository"]
    owner, name = repository["owner"]["login"], repository["name"]
    gh = await ctx.repos.client(owner, name, (event.data.get("installation") or {}).get("id"))
    if gh is None:
        return
    numbers: list[int] = []
    for branch in event.data.get("branches") or []:
        async for pr in gh.getiter(
            "/repos/{owner}/{repo}/pulls{?state,head}",
            {"owner": owner, "repo": name, "state": "open", "head": f"{owner}:{branch['name']}"},
        ):
            if pr["head"]["sha"] == event.data.get("sha"):
                numbers.append(int(pr["number"]))
    await _schedule(ctx, event, numbers)


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="ready_for_review")
@router.register("pull_request", action="unlabeled")
async def on_pull_request(event: sansio.Event, ctx: Context) -> None:
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])


@router.register("pull_request", action="labeled")
async def on_labeled(event: sansio.Event, ctx: Context) -> None:
    label = (event.data.get("label") or {}).get("name")
    if label == AUTOMERGE_LABEL:
        repository = event.data["repository"]
        owner, name = repository["owner"]["login"], repository["name"]
        gh = await ctx.repos.client(owner, name, (event.data.get("installation") or {}).get("id"))
        sender = (event.data.get("sender") or {}).get("login", "")
        if gh is not None:
            permission = await ctx.permissions.permission(gh, owner, name, sender)
            if not permission_at_least(permission, "write"):
                number = int(event.data["pull_request"]["number"])
                await gh.delete(
                    "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
                    {"owner": owner, "repo": name, "issue_number": number, "name": AUTOMERGE_LABEL},
                )
                await issue_comments.post(
                    gh, owner, name, number,
                    f"@{sender} the `{AUTOMERGE_LABEL}` label asks the bot to merge, which needs write"
                    " permission; I removed it.",
                )
                return
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])


@router.register("pull_request_review", action="submitted")
@router.register("pull_request_review", action="dismissed")
async def on_review(event: sansio.Event, ctx: Context) -> None:
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])
