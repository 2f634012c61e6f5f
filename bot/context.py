"""What a handler can use: the services, plus the id of the delivery being handled.

Handlers receive `(event, ctx)`. Services are built once by `bot/services.py`; each delivery gets a
shallow copy carrying its own `delivery_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.agent_runs import AgentRunStore
    from bot.codegen import CodegenClient
    from bot.codegen_orgs import CodegenOrgMap
    from bot.db import Database
    from bot.github import GitHubClients
    from bot.installations import InstallationStore
    from bot.jobs import JobQueue
    from bot.permissions import PermissionCache
    from bot.repo_access import RepoAccess
    from config.loader import RepoConfigLoader
    from config.settings import Settings
    from handlers.auto_fix import AutoFix
    from handlers.merge_lifecycle import Merges
    from handlers.validation_lifecycle import Validations


@dataclass(frozen=True)
class Context:
    settings: Settings
    db: Database
    github: GitHubClients
    repos: RepoAccess
    installations: InstallationStore
    config: RepoConfigLoader
    permissions: PermissionCache
    jobs: JobQueue
    agent_runs: AgentRunStore
    #: None when CODEGEN_API_TOKEN is not set: agent commands then answer that Codegen is not configured
    codegen: CodegenClient | None
    codegen_orgs: CodegenOrgMap
    #: set once the validation service is built (it needs the context itself)
    validations: Validations = None  # type: ignore[assignment]
    merges: Merges = None  # type: ignore[assignment]
    auto_fix: AutoFix = None  # type: ignore[assignment]
    delivery_id: str | None = None

    def for_delivery(self, delivery_id: str) -> Context:
        return replace(self, delivery_id=delivery_id)
