"""What a trigger can use: the feature services (built once) and, per delivery, what was resolved for it.

`Services` is built once, complete and frozen, by the composition root (entrypoints/app.py). For each
delivery the worker resolves the installation once and hands every callback `(event, gh, ctx)`, where
`gh` is that installation's API client and `ctx` an `EventContext`: the services, the delivery id, the
installation id, and two per-event memos, so that the callbacks of one event (which run side by side)
fetch the pull request at most once and load the repository config at most once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from gidgethub.abc import GitHubAPI

if TYPE_CHECKING:
    from bot.github.permissions import PermissionCache
    from bot.store.agent_runs import AgentRunStore
    from bot.store.installations import InstallationStore
    from config.loader import LoadedConfig, RepoConfigLoader
    from config.settings import Settings
    from handlers.agent.auto_fix import AutoFixService
    from handlers.agent.service import AgentRunService
    from handlers.merge.service import MergeService
    from handlers.validation.service import ValidationService

T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    settings: Settings
    installations: InstallationStore
    config: RepoConfigLoader
    permissions: PermissionCache
    agent_runs: AgentRunStore
    agent: AgentRunService
    validation: ValidationService
    merge: MergeService
    auto_fix: AutoFixService


@dataclass
class EventContext:
    """One delivery's view: the services, who it is for, and what was already fetched for it."""

    services: Services
    gh: GitHubAPI
    installation_id: int
    delivery_id: str | None = None
    _memo: dict[tuple[Any, ...], asyncio.Future[Any]] = field(default_factory=dict, repr=False)

    async def _once(self, key: tuple[Any, ...], fetch: Callable[[], Awaitable[T]]) -> T:
        """The first caller fetches; concurrent and later callers of this event share its answer."""
        future = self._memo.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._memo[key] = future
            try:
                future.set_result(await fetch())
            except BaseException as exc:
                del self._memo[key]  # a failure is not remembered: the next caller tries again
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    future.exception()  # retrieved: waiters get it, nobody else is warned
                raise
        return await asyncio.shield(future)

    async def pull_request(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        """`GET /repos/{owner}/{repo}/pulls/{number}`, at most once per event."""

        async def fetch() -> dict[str, Any]:
            pr: dict[str, Any] = await self.gh.getitem(
                "/repos/{owner}/{repo}/pulls/{pull_number}", {"owner": owner, "repo": repo, "pull_number": number}
            )
            return pr

        return await self._once(("pull", owner.lower(), repo.lower(), number), fetch)

    async def repo_config(self, owner: str, repo: str, ref: str | None) -> LoadedConfig:
        """The config in force at `ref` (None: the default branch), loaded at most once per event."""
        load = self.services.config.load
        return await self._once(
            ("config", owner.lower(), repo.lower(), ref),
            lambda: load(owner, repo, ref, installation_id=self.installation_id),
        )

    async def permission(self, owner: str, repo: str, user: str) -> str:
        return await self.services.permissions.permission(self.gh, owner, repo, user)
