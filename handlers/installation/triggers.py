"""`installation` and `installation_repositories`: remember who installed the App and on which repos."""

from __future__ import annotations

import logging
from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.store.installations import RepoGrant
from handlers.context import EventContext

router = routing.Router()
log = logging.getLogger(__name__)


def _grants(repos: list[dict[str, Any]] | None) -> list[RepoGrant]:
    return [
        RepoGrant(full_name=r["full_name"], repo_id=r.get("id"), private=r.get("private"))
        for r in repos or []
        if isinstance(r, dict) and r.get("full_name")
    ]


async def _record_installation(event: sansio.Event, ctx: EventContext) -> int:
    installation = event.data["installation"]
    account = installation.get("account") or {}
    await ctx.services.installations.upsert(installation["id"], account.get("login", "?"), account.get("type"))
    return int(installation["id"])


@router.register("installation", action="created")
async def installation_created(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    installation_id = await _record_installation(event, ctx)
    await ctx.services.installations.add_repos(installation_id, _grants(event.data.get("repositories")))
    log.info("installed", extra={"installation_id": installation_id})


@router.register("installation", action="new_permissions_accepted")
async def installation_permissions(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    await _record_installation(event, ctx)


@router.register("installation", action="deleted")
async def installation_deleted(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    installation_id = await _record_installation(event, ctx)
    await ctx.services.installations.set_flags(installation_id, deleted=True)
    log.info("uninstalled", extra={"installation_id": installation_id})


@router.register("installation", action="suspend")
async def installation_suspended(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    installation_id = await _record_installation(event, ctx)
    await ctx.services.installations.set_flags(installation_id, suspended=True)


@router.register("installation", action="unsuspend")
async def installation_unsuspended(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    installation_id = await _record_installation(event, ctx)
    await ctx.services.installations.set_flags(installation_id, suspended=False)


@router.register("installation_repositories")
async def repositories_changed(event: sansio.Event, gh: GitHubAPI, ctx: EventContext) -> None:
    installation_id = await _record_installation(event, ctx)
    await ctx.services.installations.add_repos(installation_id, _grants(event.data.get("repositories_added")))
    removed = [g.full_name for g in _grants(event.data.get("repositories_removed"))]
    await ctx.services.installations.remove_repos(installation_id, removed)
