"""Events that can change whether a pull request merges; each schedules a (debounced) evaluation.

check_run / check_suite completed, status, pull_request opened / synchronize / labeled / unlabeled /
ready_for_review / reopened, pull_request_review submitted / dismissed; pull_request closed takes the PR out
of the merge train.

The `codegen: hold` label, added by hand, withdraws GitHub's auto-merge and the merge-queue entry (GitHub
would go on with them); nothing merges while it is on (decide.py).

The `codegen: automerge` label counts only when a user with write permission adds it: added by anyone
else, the bot removes it and says why.

Check and status events cost no request when they concern nobody (GitHub's rate budget, issue 13):
- a `check_run`/`check_suite` of this App is skipped: the validation that reports it schedules the
  evaluation itself when it ends;
- otherwise, when the config loaded recently (`RepoConfigLoader.recent`) has `merge.auto_merge: false`
  and the store holds no standing merge request or automerge label for the PR (for a status: for any PR of
  the repository), nothing is scheduled. Without a recent config the evaluation job decides (it reads the
  config, and stops before gathering when nobody asked).
"""

from __future__ import annotations

from typing import Any

from gidgethub import BadRequest, routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.github.permissions import permission_at_least
from handlers.context import EventContext
from handlers.merge import texts
from handlers.merge.decide import AUTOMERGE_LABEL, HOLD_LABEL

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


async def _schedule_if_validated(ctx: EventContext, event: sansio.Event) -> None:
    """A pull request event: evaluate only when its head passed a validation. Nothing merges before that,
    and the validation's end schedules the evaluation itself (a new PR or push costs no evaluation)."""
    pr = event.data["pull_request"]
    passed = await ctx.services.merge.validations.latest_for_sha(event.data["repository"]["full_name"],
                                                                 pr["head"]["sha"])
    if passed is not None and passed.passed:
        await _schedule(ctx, event, [int(pr["number"])])


def _own(ctx: EventContext, item: dict[str, Any]) -> bool:
    app_id = (item.get("app") or {}).get("id")
    return app_id is not None and app_id == ctx.services.merge.app_id


def _auto_merge_off(ctx: EventContext, event: sansio.Event, base_ref: str | None) -> bool:
    """The recently loaded config says `merge.auto_merge: false` (False when unknown or invalid)."""
    repository = event.data["repository"]
    owner, name = repository["owner"]["login"], repository["name"]
    recent = ctx.services.merge.config.recent
    ref = base_ref or repository.get("default_branch")
    loaded = recent(owner, name, ref)
    if loaded is None and ref == repository.get("default_branch"):
        loaded = recent(owner, name, None)
    return loaded is not None and loaded.config is not None and not loaded.config.merge.auto_merge


async def _asked(ctx: EventContext, event: sansio.Event, numbers: list[int], base_ref: str | None) -> list[int]:
    """The PRs among `numbers` whose merge someone may have asked for, as far as is known without a request."""
    if not numbers or not _auto_merge_off(ctx, event, base_ref):
        return numbers
    repo = event.data["repository"]["full_name"]
    states = [await ctx.services.merge.prs.get(repo, number) for number in numbers]
    return [s.pr_number for s in states if s.merged_sha is None and (s.merge_requested_by or s.automerge_sha)]


def _base_ref(item: dict[str, Any]) -> str | None:
    named = item.get("pull_requests") or []
    return ((named[0].get("base") or {}).get("ref")) if named else None


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
@router.register("check_suite", action="completed")
async def on_check(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    item = event.data.get("check_run") or event.data["check_suite"]
    if _own(ctx, item):
        return
    numbers = await _check_event_pulls(ctx, event, item)
    await _schedule(ctx, event, await _asked(ctx, event, numbers, _base_ref(item)))


@router.register("status")
async def on_status(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    repository = event.data["repository"]
    owner, name = repository["owner"]["login"], repository["name"]
    if _auto_merge_off(ctx, event, None) and not await ctx.services.merge.prs.merge_asked_in(repository["full_name"]):
        return  # nobody asked for a merge anywhere in this repository: 0 requests
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
    await _schedule_if_validated(ctx, event)


@router.register("pull_request", action="opened")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="ready_for_review")
@router.register("pull_request", action="unlabeled")
async def on_pull_request(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule_if_validated(ctx, event)


@router.register("pull_request", action="labeled")
async def on_labeled(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    label = (event.data.get("label") or {}).get("name")
    number = int(event.data["pull_request"]["number"])
    if label == HOLD_LABEL:
        await ctx.services.merge.hold_labelled(gh, event.data["repository"]["full_name"], event.data["pull_request"])
        return  # nothing merges while it is on: no evaluation
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
    await _schedule_if_validated(ctx, event)


@router.register("pull_request", action="closed")
async def on_closed(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    """A closed (or merged) pull request leaves the merge train; the next one in line goes."""
    repository = event.data["repository"]
    await ctx.services.merge.train.leave(repository["full_name"], int(event.data["pull_request"]["number"]),
                                         ctx.installation_id)


@router.register("pull_request_review", action="submitted")
@router.register("pull_request_review", action="dismissed")
async def on_review(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _schedule_if_validated(ctx, event)
