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
    from bot.store.refusals import RefusalStore
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
    #: refusal replies, one per user per thread per 10 minutes
    refusals: RefusalStore


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

    async def changed_paths(self, owner: str, repo: str, number: int) -> set[str]:
        """The paths a pull request changes (`GET .../pulls/{n}/files`, every page, at most once per event;
        the validation reads the same list later, answered 304 then). GitHub lists at most 3,000 files."""

        async def fetch() -> set[str]:
            paths: set[str] = set()
            async for item in self.gh.getiter(
                "/repos/{owner}/{repo}/pulls/{pull_number}/files{?per_page}",
                {"owner": owner, "repo": repo, "pull_number": number, "per_page": 100},
            ):
                paths.add(item["filename"])
                if item.get("previous_filename"):
                    paths.add(item["previous_filename"])
            return paths

        return await self._once(("files", owner.lower(), repo.lower(), number), fetch)

    async def repo_config(self, owner: str, repo: str, ref: str | None) -> LoadedConfig:
        """The config in force at `ref` (None: the default branch), loaded at most once per event."""
        load = self.services.config.load
        return await self._once(
            ("config", owner.lower(), repo.lower(), ref),
            lambda: load(owner, repo, ref, installation_id=self.installation_id),
        )

    async def pulls_at_commit(self, owner: str, repo: str, sha: str, named: list[dict[str, Any]]) -> list[int]:
        """The numbers of the pull requests a check event is about. GitHub names them in `pull_requests`,
        except for a fork's head, where that list is always empty: then the store answers first (a PR
        the bot validated or held at that commit, 0 requests), and GitHub second (`GET /repos/{owner}/
        {repo}/commits/{sha}/pulls`, once per event)."""
        if named:
            return [int(pr["number"]) for pr in named]
        validated = await self.validated_pulls_at_commit(owner, repo, sha)
        if validated:
            return validated

        async def fetch() -> list[int]:
            numbers: list[int] = []
            async for pr in self.gh.getiter(
                "/repos/{owner}/{repo}/commits/{commit_sha}/pulls{?per_page}",
                {"owner": owner, "repo": repo, "commit_sha": sha, "per_page": 100},
            ):
                if pr.get("state") == "open":
                    numbers.append(int(pr["number"]))
            return numbers

        return await self._once(("pulls-at", owner.lower(), repo.lower(), sha), fetch)

    async def validated_pulls_at_commit(self, owner: str, repo: str, sha: str) -> list[int]:
        """The PR the bot validated at this commit, from the store alone (0 requests): only a validated
        head can merge, so this is all a merge re-evaluation needs."""
        recorded = await self.services.validation.store.latest_for_sha(f"{owner}/{repo}", sha)
        return [recorded.pr_number] if recorded is not None and recorded.pr_number is not None else []

    async def permission(self, owner: str, repo: str, user: str) -> str:
        return await self.services.permissions.permission(self.gh, owner, repo, user)
