"""The composition root: the only module that imports both the engine (`bot/`) and the features (`handlers/`).

`compose()` builds, once the App is configured:
1. stores and clients (GitHub, Codegen, the config loader, the permission cache);
2. the feature services, each given only what it uses, in dependency order:
   agent → merge → auto-fix → validation. Validation is built last because it is the one that calls
   the others (when a validation ends it tells auto-fix and schedules the merge evaluation); merge and
   auto-fix need only the validation *store*. Nothing is patched in after construction;
3. one frozen `Services`, the router of every feature, and what each delivery's callbacks receive:
   `(event, gh, EventContext)` with the installation resolved once per delivery; and the handlers of the status
   page (handlers/status/), whose routes `make_server` declares (`STATUS_ROUTES`).

`make_server(settings)` is the server that `codegen-bot serve` (entrypoints/serve.py) runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import aiohttp
from gidgethub import routing, sansio

from bot.codegen.client import CodegenClient
from bot.codegen.orgs import CodegenOrgMap
from bot.dispatch.claims import default_replica_id
from bot.dispatch.jobs import JobQueue
from bot.github.client import GitHubClients
from bot.github.permissions import PermissionCache
from bot.github.repo_access import RepoAccess
from bot.intake.redelivery import Redelivery
from bot.runtime.artifacts import artifact_store
from bot.runtime.metrics import REDELIVER_TASK
from bot.runtime.reconcile import Reconciler
from bot.runtime.redaction import register_secret
from bot.runtime.server import BotServer, Features
from bot.store.agent_runs import AgentRunStore
from bot.store.db import Database
from bot.store.deliveries import DeliveryStore
from bot.store.installations import InstallationStore
from bot.store.pull_requests import PullRequestStore
from bot.store.redeliveries import RedeliveryStore
from bot.store.refusals import RefusalStore
from bot.store.validations import ValidationRecord, ValidationStore
from config.loader import RepoConfigLoader, github_contents_fetcher
from config.secrets import OperatorSecrets
from config.settings import Settings
from entrypoints.retention import EveryEngine, retention_sweep
from handlers.agent.auto_fix import AutoFixService
from handlers.agent.reconcile import status_gauge as agent_status_gauge
from handlers.agent.service import AgentRunService
from handlers.commands import triggers as command_triggers
from handlers.context import EventContext, Services
from handlers.installation import triggers as installation_triggers
from handlers.merge import triggers as merge_triggers
from handlers.merge.service import MergeService, graphql_url
from handlers.status.routes import ROUTES as STATUS_ROUTES
from handlers.status.service import status_pages
from handlers.validation import config_check, merge_group
from handlers.validation import triggers as validation_triggers
from handlers.validation.limits import SnapshotCaps
from handlers.validation.service import ValidationService, instance_id, remove_leftover_snapshots
from validators.git_source import GitCache
from validators.image_policy import parse_allowed
from validators.masking import secret_forms
from validators.outcome import ValidationReport

#: every feature's router; the worker runs each matching callback on its own
ROUTER = routing.Router(
    installation_triggers.router,
    config_check.router,
    command_triggers.router,
    validation_triggers.router,
    merge_group.router,
    merge_triggers.router,
)


def make_server(settings: Settings, *, app_yml: Path | None = None, env_path: Path = Path(".env")) -> BotServer:
    return BotServer(settings, compose, app_yml=app_yml, env_path=env_path, pages=STATUS_ROUTES)


def replica_instance(settings: Settings) -> str:
    """The label of this bot's snapshots on a Docker engine, whose leftovers it removes at start-up. Replicas
    sharing a PostgreSQL store (and maybe an engine) each have their own, so one starting never removes another's
    live snapshots."""
    instance = instance_id(settings)
    if settings.database_backend == "sqlite":
        return instance
    replica = settings.replica_id or default_replica_id(settings.port)
    return hashlib.sha256(f"{instance}|{replica}".encode()).hexdigest()[:16]


def github_clients(settings: Settings, session: aiohttp.ClientSession) -> GitHubClients:
    private_key = settings.private_key()
    assert settings.github_app_id is not None and private_key is not None
    return GitHubClients(
        session, app_id=settings.github_app_id, private_key=private_key, api_url=settings.github_api_url,
        max_rate_limit_wait=settings.github_max_rate_limit_wait,
    )


def config_loader(github: GitHubClients) -> RepoConfigLoader:
    """Every file of a config (inherited ones too) is read with the configured repository's installation."""
    return RepoConfigLoader(github_contents_fetcher(github.installation))


def compose(settings: Settings, db: Database, session: aiohttp.ClientSession, jobs: JobQueue) -> Features:
    github = github_clients(settings, session)
    installations = InstallationStore(db)
    repos = RepoAccess(github, installations)
    config = config_loader(github)
    permissions = PermissionCache()
    token = settings.codegen_api_token.get_secret_value() if settings.codegen_api_token else None
    codegen = CodegenClient(settings.codegen_api_url, token) if token else None
    agent_runs, validations, prs = AgentRunStore(db), ValidationStore(db), PullRequestStore(db)

    agent = AgentRunService(
        store=agent_runs, jobs=jobs, github=github, codegen=codegen,
        orgs=CodegenOrgMap.load(settings.codegen_org_map_path), default_org_id=settings.codegen_org_id,
        config=config, poll_seconds=settings.agent_poll_seconds, stale_minutes=settings.agent_run_stale_minutes,
    )
    merge = MergeService(jobs=jobs, prs=prs, validations=validations, config=config, github=github,
                         graphql_endpoint=graphql_url(settings.github_api_url), app_id=settings.github_app_id,
                         permissions=permissions)
    auto_fix = AutoFixService(prs=prs, runs=agent_runs, agent=agent, validations=validations, config=config,
                              github=github)

    async def evaluate_merge(record: ValidationRecord, report: ValidationReport) -> None:
        if record.pr_number is not None:
            await merge.schedule(record.repo, record.pr_number, record.installation_id)

    instance = replica_instance(settings)
    validation = ValidationService(
        jobs=jobs, store=validations, github=github, config=config, permissions=permissions,
        git_cache=GitCache(settings.git_cache_dir), github_url=settings.github_url, instance=instance,
        chromium_path=str(settings.chromium_path), ca_bundle=settings.snapshot_ca_bundle,
        concurrency=settings.validation_concurrency, after=(auto_fix.after_validation, evaluate_merge),
        artifacts=artifact_store(settings), max_browsers=settings.web_eval_max_concurrent,
        caps=SnapshotCaps(settings.snapshot_max_cpus, settings.snapshot_max_memory, settings.snapshot_max_minutes),
        allowed_images=parse_allowed(settings.snapshot_allowed_images), metrics=jobs.metrics,
        secrets=operator_secrets(settings), secrets_for_forks=settings.secrets_for_forks,
        docker_hosts=settings.docker_hosts,
    )
    reconciler = _reconciler(settings, db, jobs, github, agent, validation)
    jobs.metrics.on_scrape("agent_runs", agent_status_gauge(agent_runs, jobs.metrics.agent_runs))
    sweep = retention_sweep(settings, db, jobs, validation.git_cache, validation.artifacts,
                            EveryEngine(validation.engine_pool()))  # each engine's own images
    for service in (agent, validation, merge, reconciler, sweep):
        service.register()
    services = Services(settings=settings, installations=installations, config=config, permissions=permissions,
                        refusals=RefusalStore(db),
                        agent_runs=agent_runs, agent=agent, validation=validation, merge=merge, auto_fix=auto_fix)
    return Features(
        router=ROUTER,
        handler_args=_handler_args(services, repos, github),
        on_start=[lambda: _remove_leftovers(instance, validation), reconciler.schedule, sweep.schedule],
        on_stop=[*([codegen.aclose] if codegen is not None else []), validation.engine_pool().aclose],
        services=services,
        pages=status_pages(settings, db, session, jobs, github).handlers(),
    )


def _reconciler(settings: Settings, db: Database, jobs: JobQueue, github: GitHubClients, agent: AgentRunService,
                validation: ValidationService) -> Reconciler:
    """The reconciler's tasks (issue 14): each feature's repairs, named for /metrics."""
    reconciler = Reconciler(jobs, settings.reconcile_minutes * 60)
    reconciler.add("agent_runs.unfollowed", agent.reconcile_unfollowed)
    reconciler.add("validations.stuck", validation.reconcile_stuck)
    reconciler.add("validations.check_runs", validation.reconcile_check_runs)
    reconciler.on_repairs = jobs.metrics.count_repairs
    redelivery = Redelivery(github.app(), DeliveryStore(db), RedeliveryStore(db))
    reconciler.add(REDELIVER_TASK, redelivery.run_once)
    if settings.reconcile_open_prs:
        reconciler.add("validations.open_prs", validation.reconcile_open_prs)
    return reconciler


def operator_secrets(settings: Settings) -> OperatorSecrets:
    """The secrets read at start-up (SECRETS_PATH, CODEGEN_SECRET_*), each registered with the redaction of the
    bot's logs, comments and check runs, with the encodings validators/masking.py masks."""
    secrets = settings.operator_secrets()
    for value in secrets.all_values():
        for form in secret_forms(value):
            register_secret(form)
    return secrets


async def _remove_leftovers(instance: str, validation: ValidationService) -> None:
    await remove_leftover_snapshots(instance, validation.engines)  # on every engine (DOCKER_HOSTS)


def _handler_args(services: Services, repos: RepoAccess, github: GitHubClients) -> Any:
    async def handler_args(event: sansio.Event) -> tuple[Any, ...] | None:
        """`(gh, ctx)` for every callback of this delivery: its installation, resolved once."""
        installation_id = await repos.installation_for_event(event.data)
        if installation_id is None:
            return None
        gh = github.installation(installation_id)
        return gh, EventContext(services, gh, installation_id, event.delivery_id)

    return handler_args
