"""Events that start (or stop) a pull request's validation.

- `pull_request` opened / synchronize / reopened / ready_for_review → validate the head (a push cancels
  the older commit's validation); closed → cancel.
- `check_suite` requested / rerequested → validate each open PR of the suite's head SHA.
- `check_run` rerequested, or its **Re-run** button → validate again; the **Approve and run** button
  (`ok-to-test`) → approve that head SHA, if the presser has write permission, and validate it; the
  **Fix with Codegen** button → send the failure to the agent (the presser needs `agent.min_permission`).

The repository config is read at the PR's base branch; an invalid config runs nothing (the
`codegen/config` check run says why).
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import BadRequest, routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github import comments
from bot.github.permissions import permission_at_least
from handlers.context import EventContext

router = routing.Router()
log = logging.getLogger(__name__)


def _repo(event: sansio.Event) -> tuple[str, str, str]:
    repository = event.data["repository"]
    return repository["owner"]["login"], repository["name"], repository["full_name"]


async def validate_pr(ctx: EventContext, full_name: str, pr: dict[str, Any], trigger: str) -> None:
    owner, name = full_name.split("/", 1)
    loaded = await ctx.repo_config(owner, name, pr["base"]["ref"])
    if loaded.config is None:
        log.info("config invalid; validation not started", extra={"repo": full_name, "pr": pr["number"]})
        return
    await ctx.services.validation.request(
        ctx.gh, repo=full_name, pr=pr, installation_id=ctx.installation_id, trigger=trigger, config=loaded.config
    )


@router.register("pull_request", action="opened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="ready_for_review")
async def on_pull_request(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    """A delivery is not the present: a late or redelivered event about an older head must not cancel the
    newer head's validation, so the PR is read fresh (once per event) and only its current head runs."""
    owner, name, full_name = _repo(event)
    sent = event.data["pull_request"]
    fresh = await _current(ctx, owner, name, int(sent["number"]))
    if fresh is None:
        return
    if fresh["head"]["sha"] != sent["head"]["sha"]:
        log.info("event about %s, but the head is now %s: nothing to do", sent["head"]["sha"][:12],
                 fresh["head"]["sha"][:12], extra={"repo": full_name, "pr": sent["number"]})
        return
    await validate_pr(ctx, full_name, fresh, f"pull_request.{event.data['action']}")


@router.register("pull_request", action="closed")
async def on_closed(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    _, _, full_name = _repo(event)
    number = int(event.data["pull_request"]["number"])
    await ctx.services.validation.cancel(gh, full_name, number)


async def _current(ctx: EventContext, owner: str, name: str, number: int) -> dict[str, Any] | None:
    """The pull request as GitHub has it now; None (logged) when it no longer exists."""
    try:
        return await ctx.pull_request(owner, name, number)
    except BadRequest as exc:
        if exc.status_code != 404:
            raise
        log.info("pull request #%s named by the event no longer exists", number)
        return None


async def _open_prs_for_sha(ctx: EventContext, owner: str, name: str, pulls: list[dict[str, Any]],
                            sha: str) -> list[dict[str, Any]]:
    """The pull requests a check suite/run is about that are still open at `sha` (a deleted one is
    skipped). A fork's head comes with `pull_requests: []`: its PRs are found from the commit."""
    result = []
    for number in await ctx.pulls_at_commit(owner, name, sha, pulls):
        pr = await _current(ctx, owner, name, number)
        if pr is not None and pr.get("state") == "open" and pr["head"]["sha"] == sha:
            result.append(pr)
    return result


@router.register("check_suite", action="requested")
@router.register("check_suite", action="rerequested")
async def on_check_suite(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    suite = event.data["check_suite"]
    owner, name, full_name = _repo(event)
    trigger = "check_suite.requested" if event.data["action"] == "requested" else "rerun"
    for pr in await _open_prs_for_sha(ctx, owner, name, suite.get("pull_requests") or [], suite["head_sha"]):
        await validate_pr(ctx, full_name, pr, trigger)


async def _rerun_check_run(event: sansio.Event, ctx: EventContext, approve: bool) -> None:
    check_run = event.data["check_run"]
    owner, name, full_name = _repo(event)
    if not str(check_run.get("name", "")).startswith("codegen/"):
        return
    sender = (event.data.get("sender") or {}).get("login", "")
    if approve:
        if not permission_at_least(await ctx.permission(owner, name, sender), "write"):
            log.info("ok-to-test pressed by %s without write permission; ignored", sender)
            return
        await ctx.services.validation.store.approve(full_name, check_run["head_sha"], sender)
    pulls = check_run.get("pull_requests") or []
    for pr in await _open_prs_for_sha(ctx, owner, name, pulls, check_run["head_sha"]):
        await validate_pr(ctx, full_name, pr, "rerun")


@router.register("check_run", action="rerequested")
async def on_check_run_rerequested(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _rerun_check_run(event, ctx, approve=False)


@router.register("check_run", action="requested_action")
async def on_check_run_action(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    identifier = (event.data.get("requested_action") or {}).get("identifier")
    if identifier == "rerun":
        await _rerun_check_run(event, ctx, approve=False)
    elif identifier == "ok-to-test":
        await _rerun_check_run(event, ctx, approve=True)
    elif identifier == "fix":
        await _fix_from_button(event, ctx)


async def _fix_from_button(event: sansio.Event, ctx: EventContext) -> None:
    """The **Fix with Codegen** button: the presser needs `agent.min_permission`."""
    check_run = event.data["check_run"]
    owner, name, full_name = _repo(event)
    sender = (event.data.get("sender") or {}).get("login", "")
    # only while the PR is still at the commit whose check run carried the button
    pulls = check_run.get("pull_requests") or []
    for pr in await _open_prs_for_sha(ctx, owner, name, pulls, check_run["head_sha"]):
        loaded = await ctx.repo_config(owner, name, pr["base"]["ref"])
        required = loaded.config.agent.min_permission if loaded.config is not None else "write"
        if not permission_at_least(await ctx.permission(owner, name, sender), required):
            log.info("fix pressed by %s without %s permission; ignored", sender, required)
            return
        # the press is its delivery: handled again (a crash, a redelivery), it finds its own run and reply
        press = f"fix_button:{event.delivery_id}:{pr['number']}"
        outcome = await ctx.services.auto_fix.fix_requested(
            ctx.gh, repo=full_name, pr=pr, installation_id=ctx.installation_id, user=sender, extra="",
            command_comment_id=None, command_key=press,
        )
        reply = f"<!-- codegen-bot:{press} -->\n@{sender} pressed **Fix with Codegen**: {outcome}"
        await comments.post_once(ctx.gh, owner, name, int(pr["number"]), f"<!-- codegen-bot:{press} -->", reply)
