"""GitHub's merge queue: its temporary commits are validated like a pull request's head.

A branch whose rules require a merge queue builds, for each entry, a commit on a temporary branch
(`gh-readonly-queue/<base>/pr-<n>-<sha>`) and asks every required check for it with `merge_group`
`checks_requested`. A queue that requires `codegen/build` or `codegen/test` waits for this App's check runs
on that commit, and removes the entry when they fail or never come.

- `checks_requested`: the group's `head_sha` is validated with the same pipeline and check-run names as a
  pull request, with the config of the queue's *base* branch (`merge_group.base_ref`), the commit fetched
  from the base repository by its queue branch. One validation per commit: a redelivered event finishes
  what a crash left (check runs, job), never starts a second set.
- `destroyed` (the group was merged, dequeued, or invalidated by an earlier entry leaving the queue): its
  validation, if still live, is cancelled and its unfinished check runs end `cancelled`.

Decisions:
- A queue commit is trusted code: only a user with write access can put a pull request in the queue, and
  GitHub puts it there only after the branch's required checks passed on the pull request (so a fork's code
  was approved before it got there). No approval gate applies.
- The analysis stage sees no changed files for a queue commit: the pull requests in it had theirs parsed by
  their own validations, and the group's diff against its base would cost a comparison per entry.
- A queue validation left without a job (a crash) is queued again by the reconciler for an hour (GitHub's
  default time a queue waits for checks), then cancelled.
- Auto-fix and merge evaluation do not follow a queue validation (no pull request is its own; GitHub merges
  the group itself when the checks pass).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.store.validations import ValidationRecord
from config.schema import RepoConfig
from handlers.context import EventContext
from handlers.validation import reconcile
from handlers.validation.gate import Run

if TYPE_CHECKING:
    from handlers.validation.service import ValidationService

router = routing.Router()
log = logging.getLogger(__name__)

TRIGGER = "merge_group.checks_requested"
DESTROYED = "The merge queue dropped this group ({reason}); its validation stopped."


def branch_of(ref: str) -> str:
    """`refs/heads/main` → `main` (a merge group's refs are full refs)."""
    return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref


def group_as_pull(group: dict[str, Any], repository: dict[str, Any]) -> dict[str, Any]:
    """Pure: the parts of a pull request that starting a validation reads (its base), for a queue commit."""
    return {"number": None, "html_url": None, "head": {"sha": group["head_sha"], "ref": branch_of(group["head_ref"])},
            "base": {"ref": branch_of(group["base_ref"]), "sha": group.get("base_sha"), "repo": repository}}


async def validate_group(
    svc: ValidationService, gh: GitHubAPI, *, repo: str, group: dict[str, Any], repository: dict[str, Any],
    installation_id: int, config: RepoConfig,
) -> ValidationRecord | None:
    """Validate the queue commit once (see the module's docstring)."""
    pull = group_as_pull(group, repository)
    sha = group["head_sha"]
    async with svc.pr_lock(repo, None):
        existing = await svc.store.latest_for_sha(repo, sha)
        if existing is not None and existing.state != "cancelled":
            if not existing.check_runs or existing.state in ("queued", "running"):
                await reconcile.resume(svc, gh, existing, pull, config, None)
            return None
        base_url = repository.get("clone_url") or f"{svc.github_url}/{repo}.git"
        record = await svc.store.create(
            repo=repo, pr_number=None, head_sha=sha, head_ref=pull["head"]["ref"], clone_url=base_url,
            source_url=base_url, installation_id=installation_id, state="queued", trigger=TRIGGER,
        )
        return await reconcile.start(svc, gh, record, pull, config, Run("merge queue"), look_first=False)


async def stop_group(svc: ValidationService, gh: GitHubAPI, repo: str, sha: str, reason: str) -> bool:
    """The group is gone: its live validation is cancelled (True when there was one)."""
    async with svc.pr_lock(repo, None):
        record = await svc.store.latest_for_sha(repo, sha)
        if record is None or record.state not in ("queued", "running", "held"):
            return False
        await svc.cancel_record(gh, record, DESTROYED.format(reason=reason or "destroyed"))
        return True


@router.register("merge_group", action="checks_requested")
async def on_checks_requested(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    repository, group = event.data["repository"], event.data["merge_group"]
    owner, name = repository["owner"]["login"], repository["name"]
    loaded = await ctx.repo_config(owner, name, branch_of(group["base_ref"]))
    if loaded.config is None:
        log.info("config invalid; queue commit %s not validated", group["head_sha"][:12],
                 extra={"repo": repository["full_name"]})
        return
    await validate_group(ctx.services.validation, gh, repo=repository["full_name"], group=group,
                         repository=repository, installation_id=ctx.installation_id, config=loaded.config)


@router.register("merge_group", action="destroyed")
async def on_destroyed(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    repository, group = event.data["repository"], event.data["merge_group"]
    await stop_group(ctx.services.validation, gh, repository["full_name"], group["head_sha"],
                     str(event.data.get("reason") or ""))
