"""Builds the status page's parts from the settings and the engine's stores and clients (called once by the
composition root, entrypoints/app.py)."""

from __future__ import annotations

import aiohttp

from bot.dispatch.jobs import JobQueue
from bot.github.client import GitHubClients
from bot.runtime.artifacts import artifact_store
from bot.runtime.web_session import Sessions, Signer, signing_key
from bot.runtime.web_signin import GitHubSignIn, OAuthApp
from bot.store.agent_runs import AgentRunStore
from bot.store.db import Database
from bot.store.deliveries import DeliveryStore
from bot.store.installations import InstallationStore
from bot.store.pull_requests import PullRequestStore
from bot.store.validations import ValidationStore
from config.settings import Settings
from handlers.status.access import StatusAccess
from handlers.status.gather import OperatorReader, StatusReader
from handlers.status.routes import StatusPages


def status_pages(settings: Settings, db: Database, http: aiohttp.ClientSession, jobs: JobQueue,
                 github: GitHubClients) -> StatusPages:
    webhook = settings.github_webhook_secret.get_secret_value() if settings.github_webhook_secret else None
    explicit = settings.status_session_secret.get_secret_value() if settings.status_session_secret else None
    signer = Signer(signing_key(webhook, explicit))
    signin = None
    if settings.github_client_id and settings.github_client_secret:
        oauth = OAuthApp(settings.github_client_id, settings.github_client_secret.get_secret_value(),
                         settings.github_url, settings.github_api_url)
        signin = GitHubSignIn(oauth, http=http, signer=signer, sessions=Sessions(),
                              session_ttl=settings.status_session_hours * 3600, public_url=settings.public_url)
    access = StatusAccess(http=http, api_url=settings.github_api_url, app=github.app(),
                          installation=github.installation, installations=InstallationStore(db),
                          admin_team=settings.status_admin_team)
    reader = StatusReader(validations=ValidationStore(db), agent_runs=AgentRunStore(db), prs=PullRequestStore(db),
                          artifacts=artifact_store(settings), github_url=settings.github_url)
    ops = OperatorReader(deliveries=DeliveryStore(db), jobs=jobs, metrics=jobs.metrics)
    return StatusPages(signin=signin, access=access, reader=reader, ops=ops, signer=signer,
                       admin_separate=settings.admin_port is not None)
