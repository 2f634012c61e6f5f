"""Build the long-lived services a configured App needs, from the settings."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp

from bot.agent_runs import AgentRunStore
from bot.codegen import CodegenClient
from bot.codegen_orgs import CodegenOrgMap
from bot.context import Context
from bot.db import Database
from bot.github import GitHubClients
from bot.installations import InstallationStore
from bot.jobs import JobQueue
from bot.permissions import PermissionCache
from bot.pull_requests import PullRequestStore
from bot.repo_access import RepoAccess
from bot.validations import ValidationRecord, ValidationStore
from config.loader import FetchedFile, RepoConfigLoader, github_contents_fetcher
from config.settings import Settings
from handlers.agent_lifecycle import AgentRuns
from handlers.auto_fix import AutoFix
from handlers.merge_lifecycle import Merges
from handlers.validation_lifecycle import Validations
from validators.git_source import GitCache
from validators.outcome import ValidationReport
from validators.web_eval.artifacts import ArtifactStore, derive_key


def build_context(settings: Settings, db: Database, session: aiohttp.ClientSession, jobs: JobQueue) -> Context:
    """The services, wired to each other and to the job queue (their job kinds are registered here)."""
    base = _base_context(settings, db, session, jobs)
    prs = PullRequestStore(db)
    validations = Validations(
        ctx=base,
        jobs=jobs,
        store=ValidationStore(db),
        git_cache=GitCache(settings.git_cache_dir),
        ca_bundle=settings.snapshot_ca_bundle,
        concurrency=settings.validation_concurrency,
        artifacts=artifact_store(settings),
        _browsers=asyncio.Semaphore(settings.web_eval_max_concurrent),
    )
    merges = Merges(ctx=base, jobs=jobs, prs=prs, validations=validations.store)
    auto_fix = AutoFix(ctx=base, prs=prs)
    ctx = replace(base, validations=validations, merges=merges, auto_fix=auto_fix)
    validations.ctx = merges.ctx = auto_fix.ctx = ctx

    async def evaluate_merge(record: ValidationRecord, report: ValidationReport) -> None:
        if record.pr_number is not None:
            await merges.schedule(record.repo, record.pr_number, record.installation_id)

    validations.after.extend([auto_fix.after_validation, evaluate_merge])
    AgentRuns(ctx, jobs).register()
    validations.register()
    merges.register()
    return ctx


def artifact_store(settings: Settings) -> ArtifactStore:
    secret = settings.github_webhook_secret.get_secret_value() if settings.github_webhook_secret else None
    explicit = settings.artifact_signing_key.get_secret_value() if settings.artifact_signing_key else None
    return ArtifactStore(settings.artifacts_dir, derive_key(secret, explicit), settings.public_url,
                         ttl_seconds=settings.artifact_url_ttl_hours * 3600)


def _base_context(settings: Settings, db: Database, session: aiohttp.ClientSession, jobs: JobQueue) -> Context:
    private_key = settings.private_key()
    assert settings.github_app_id is not None and private_key is not None
    github = GitHubClients(
        session,
        app_id=settings.github_app_id,
        private_key=private_key,
        api_url=settings.github_api_url,
        max_rate_limit_wait=settings.github_max_rate_limit_wait,
    )
    installations = InstallationStore(db)
    repos = RepoAccess(github, installations)

    async def fetch_file(owner: str, repo: str, path: str, ref: str | None) -> FetchedFile | None:
        gh = await repos.client(owner, repo)
        if gh is None:
            return None
        return await github_contents_fetcher(gh)(owner, repo, path, ref)

    token = settings.codegen_api_token.get_secret_value() if settings.codegen_api_token else None
    return Context(
        settings=settings,
        db=db,
        github=github,
        repos=repos,
        installations=installations,
        config=RepoConfigLoader(fetch_file),
        permissions=PermissionCache(),
        jobs=jobs,
        agent_runs=AgentRunStore(db),
        codegen=CodegenClient(settings.codegen_api_url, token) if token else None,
        codegen_orgs=CodegenOrgMap.load(settings.codegen_org_map_path),
    )
