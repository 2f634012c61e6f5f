"""The `codegen/config` check run: is the repository's `.github/codegen.yml` usable?

On every pull request event that leads to a validation, the config is read at the PR's *base* branch (the
config in force; a PR never steers the bot with its own head). The check run on the PR head says which
config is used, or fails with every error (key path and line).

When the PR itself changes `.github/codegen.yml` (its list of changed files says so), the head's version is
also *parsed and validated* (never used): its errors fail the check too, so a broken config cannot be merged
unnoticed. Parsing is safe YAML only; nothing from the head runs.
"""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github import check_runs
from bot.runtime.logs import delivery_attempt
from config.loader import LoadedConfig
from handlers.context import EventContext

router = routing.Router()
log = logging.getLogger(__name__)

CHECK_NAME = "codegen/config"
CONFIG_PATH = ".github/codegen.yml"
#: GitHub lists at most this many files of a pull request; a longer list may hide the config
MAX_LISTED_FILES = 3000


def _error_lines(loaded: LoadedConfig) -> list[str]:
    lines = []
    for err in loaded.errors:
        where = f"line {err.line}" if err.line else "file"
        lines.append(f"- `{err.path or '(root)'}` ({err.file}, {where}): {err.message}")
    return lines


def config_report(base: LoadedConfig, head: LoadedConfig | None) -> dict[str, Any]:
    """Pure: the check run's conclusion and output for the base config and (optionally) the PR's version."""
    failures: list[str] = []
    if not base.ok:
        failures.append(
            f"**The config in force (base branch) has {len(base.errors)} error(s)**;"
            " nothing runs until it is fixed:"
        )
        failures.extend(_error_lines(base))
    if head is not None and not head.ok:
        failures.append(f"**This pull request's `{CONFIG_PATH}` has {len(head.errors)} error(s)**:")
        failures.extend(_error_lines(head))
    if failures:
        return {
            "conclusion": "failure",
            "output": check_runs.output("Invalid .github/codegen.yml", "\n".join(failures)),
        }
    used = ", ".join(f"`{s}`" for s in base.sources) or "no file: the documented defaults"
    summary = f"Config in force: {used}."
    if head is not None:
        summary += f"\n\nThis pull request's `{CONFIG_PATH}` is valid; it takes effect once merged."
    return {"conclusion": "success", "output": check_runs.output("Config OK", summary)}


async def _changed_config(ctx: EventContext, event: sansio.Event, base: LoadedConfig) -> LoadedConfig | None:
    """The head's config when it differs from the base's (validated, never used)."""
    pr = event.data["pull_request"]
    head_repo = (pr["head"].get("repo") or {}).get("full_name")
    base_repo = event.data["repository"]["full_name"]
    if head_repo != base_repo:
        return None  # a fork's head is not read with this installation's token; the base config applies
    owner, repo = base_repo.split("/", 1)
    changed = await ctx.changed_paths(owner, repo, int(pr["number"]))
    if CONFIG_PATH not in changed and len(changed) < MAX_LISTED_FILES:
        return None  # the PR does not touch it: merged, the base's config stays the one in force
    head = await ctx.repo_config(owner, repo, pr["head"]["sha"])
    same = (head.sources, head.blob_shas) == (base.sources, base.blob_shas)
    return None if same else head


@router.register("pull_request", action="opened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="ready_for_review")
async def check_config(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    repository = event.data["repository"]
    owner, repo = repository["owner"]["login"], repository["name"]
    pr = event.data["pull_request"]
    base = await ctx.repo_config(owner, repo, pr["base"]["ref"])
    head = await _changed_config(ctx, event, base)
    report = config_report(base, head)
    # One per head: `synchronize` and `reopened` of one head are two events, and a crash may come between
    # GitHub's answer and the delivery's end, so those look first. The first handling of `opened` saves
    # that lookup (a PR's first head has had no event; a second PR opened on the very same commit gets a
    # second `codegen/config` run with the same result, which GitHub shows as one).
    first_sight = event.data.get("action") == "opened" and delivery_attempt() == 1
    await (check_runs.create if first_sight else check_runs.create_once)(
        gh,
        owner,
        repo,
        {
            "name": CHECK_NAME,
            "head_sha": pr["head"]["sha"],
            "status": "completed",
            "external_id": f"config:{pr['head']['sha']}",
            **report,
        },
    )
