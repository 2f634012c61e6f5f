"""Events that can change whether a pull request merges; each schedules a (debounced) evaluation.

check_run / check_suite completed, status, pull_request opened / synchronize / labeled / unlabeled /
ready_for_review / reopened, pull_request_review submitted / dismissed.

The `codegen: automerge` label counts only when a user with write permission adds it: added by anyone
else, the bot removes it and says why.
"""

from __future__ import annotations

from typing import Any

from gidgethub import BadRequest, routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.github.permissions import permission_at_least
from handlers.context import EventContext
from handlers.merge import texts
from handlers.merge.decide import AUTOMERGE_LABEL

router = routing.Router()


async def _schedule(ctx: EventContext, event: sansio.Event, numbers: list[int]) -> None:
    full_name = event.data["repository"]["full_name"]
    for number in sorted(set(numbers)):
        await ctx.services.merge.schedule(full_name, number, ctx.installation_id)


def _pr_numbers(items: list[dict[str, Any]] | None, repo_id: int | None) -> list[int]:
    """PR references from check payloads, only those whose base is this repository."""
    return [
        int(pr["number"])
        for pr in items or []
        if repo_id is None or ((pr.get("base") or {}).get("repo") or {}).get("id") in (None, repo_id)
    ]


async def _check_event_pulls(ctx: EventContext, event: sansio.Event, item: dict[str, Any]) -> list[int]:
    """The PRs a check run/suite reports on. A fork's head comes with `pull_requests: []`: its PR is the
    one the bot validated at that commit (from the store, no request)."""
    repository = event.data["repository"]
    named = item.get("pull_requests") or []
    if named:
        return _pr_numbers(named, repository.get("id"))
    owner, name = repository["owner"]["login"], repository["name"]
    return await ctx.validated_pulls_at_commit(owner, name, item["head_sha"])


@router.register("check_run", action="completed")
async def on_check_run(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule(ctx, event, await _check_event_pulls(ctx, event, event.data["check_run"]))


@router.register("check_suite", action="completed")
async def on_check_suite(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule(ctx, event, await _check_event_pulls(ctx, event, event.data["check_suite"]))


@router.register("status")
async def on_status(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    repository = event.data["repository"]
    owner, name = repository["owner"]["login"], repository["name"]
    numbers: list[int] = []
    for branch in event.data.get("branches") or []:
        async for pr in gh.getiter(
            "/repos/{owner}/{repo}/pulls{?state,head}",
            {"owner": owner, "repo": name, "state": "open", "head": f"{owner}:{branch['name']}"},
        ):
            if pr["head"]["sha"] == event.data.get("sha"):
                numbers.append(int(pr["number"]))
    await _schedule(ctx, event, numbers)


@router.register("pull_request", action="synchronize")
async def on_push(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    """A push withdraws a merge request given for an older head, then the PR is evaluated again."""
    repository = event.data["repository"]
    number = int(event.data["pull_request"]["number"])
    try:
        fresh = await ctx.pull_request(repository["owner"]["login"], repository["name"], number)  # not the payload's
    except BadRequest as exc:
        if exc.status_code != 404:
            raise
        return  # the pull request is gone
    await ctx.services.merge.withdraw_on_push(gh, repository["full_name"], fresh)
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="ready_for_review")
@router.register("pull_request", action="unlabeled")
async def on_pull_request(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])


@router.register("pull_request", action="labeled")
async def on_labeled(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    label = (event.data.get("label") or {}).get("name")
    number = int(event.data["pull_request"]["number"])
    if label == AUTOMERGE_LABEL:
        repository = event.data["repository"]
        owner, name = repository["owner"]["login"], repository["name"]
        sender = (event.data.get("sender") or {}).get("login", "")
        if permission_at_least(await ctx.permission(owner, name, sender), "write"):
            sha = event.data["pull_request"]["head"]["sha"]
            await ctx.services.merge.prs.set(repository["full_name"], number, automerge_sha=sha)
        else:
            await ctx.services.merge.prs.set(repository["full_name"], number, automerge_sha=None)
            await gh.delete(
                "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
                {"owner": owner, "repo": name, "issue_number": number, "name": AUTOMERGE_LABEL},
            )
            await comments.post(gh, owner, name, number, texts.label_removed(sender))
            return
    await _schedule(ctx, event, [number])


@router.register("pull_request_review", action="submitted")
@router.register("pull_request_review", action="dismissed")
async def on_review(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule(ctx, event, [int(event.data["pull_request"]["number"])])
