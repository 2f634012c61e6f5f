"""The HTTP face of the bot: webhook intake, setup page, health and metrics.

Routes: `POST /webhook`, `GET /` (setup page until the App is registered, then a status page),
`GET /setup/callback`, `GET /healthz` (200 when the store answers, else 503), `GET /metrics`.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.context import Context
from bot.db import Database
from bot.deliveries import DeliveryStore
from bot.github import convert_manifest
from bot.intake import MAX_BODY, WebhookIntake
from bot.jobs import JobQueue
from bot.metrics import Metrics
from bot.migrations import MIGRATIONS
from bot.pacing import HandlingPacer, IntakePressure
from bot.redact import register_secret
from bot.services import artifact_store, build_context
from bot.setup_page import SetupFlow
from bot.worker import DeliveryWorker
from config.settings import Settings, load_settings
from handlers.routes import ROUTER
from handlers.validation_lifecycle import instance_id, remove_leftover_snapshots

log = logging.getLogger(__name__)

DEFAULT_APP_YML = Path(__file__).resolve().parent.parent / "app.yml"


class BotServer:
    def __init__(
        self, settings: Settings, *, app_yml: Path = DEFAULT_APP_YML, env_path: Path = Path(".env")
    ) -> None:
        self.settings = settings
        self.app_yml = app_yml
        self.env_path = env_path
        self.metrics = Metrics()
        self.db: Database | None = None
        self.session: aiohttp.ClientSession | None = None
        self.worker: DeliveryWorker | None = None
        self.intake: WebhookIntake | None = None
        self.jobs: JobQueue | None = None
        self.context: Context | None = None
        #: told the webhook secret whenever the intake is (re)built (the intake processes keep a copy)
        self.secret_listeners: list[Callable[[str | None], None]] = []
        for secret in settings.secret_values():
            register_secret(secret)

    # --- lifecycle --------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY + 1)
        setup = SetupFlow(
            app_yml=self.app_yml,
            env_path=self.env_path,
            github_url=self.settings.github_url,
            public_url=self.settings.public_url,
            convert=self._convert_manifest,
            on_configured=self._reconfigure,
        )
        self.setup = setup
        app.router.add_post("/webhook", self._webhook)
        app.router.add_get("/", self._index)
        app.router.add_get("/setup/callback", setup.callback)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/artifacts/{validation}/{name}", self._artifact)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, _app: web.Application) -> None:
        self.db = await Database.open(self.settings.database_path, MIGRATIONS)
        self.session = aiohttp.ClientSession()
        self.deliveries = DeliveryStore(self.db)
        await self._start_services()

    async def _start_services(self) -> None:
        assert self.db is not None and self.session is not None
        secret = self.settings.github_webhook_secret
        self.pressure = IntakePressure()
        self.intake = WebhookIntake(
            secret=secret.get_secret_value() if secret else None,
            store=self.deliveries,
            metrics=self.metrics,
            on_stored=self._on_stored,
            pressure=self.pressure,
        )
        for listener in self.secret_listeners:
            listener(self.intake.secret)
        if not self.settings.app_configured:
            log.warning("no GitHub App credentials: serving the setup page at / and refusing webhooks")
            return
        self.jobs = JobQueue(self.db)
        self.context = build_context(self.settings, self.db, self.session, self.jobs)
        # before the queue re-runs validations a crash interrupted
        await remove_leftover_snapshots(instance_id(self.settings))
        await self.jobs.start()
        self.worker = DeliveryWorker(
            store=self.deliveries,
            router=ROUTER,
            context_for=self.context.for_delivery,
            metrics=self.metrics,
            concurrency=self.settings.worker_concurrency,
            pacer=HandlingPacer(self.pressure, self.settings.worker_rate_under_load),
        )
        await self.worker.start()
        log.info("codegen-bot ready", extra={"app_id": self.settings.github_app_id})

    async def _reconfigure(self) -> None:
        """After the manifest flow wrote `.env`: reload settings and start handling webhooks."""
        written = {"github_app_id", "github_private_key", "github_private_key_path", "github_webhook_secret"}
        kept = {k: v for k, v in self.settings.model_dump().items() if k not in written}
        self.settings = load_settings(_env_file=str(self.env_path), **kept)
        for secret in self.settings.secret_values():
            register_secret(secret)
        await self._stop_services()
        await self._start_services()

    async def _stop_services(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
            self.worker = None
        if self.jobs is not None:
            await self.jobs.stop()
            self.jobs = None
        if self.context is not None and self.context.codegen is not None:
            await self.context.codegen.aclose()
        self.context = None

    async def _cleanup(self, _app: web.Application) -> None:
        await self._stop_services()
        if self.session is not None:
            await self.session.close()
        if self.db is not None:
            await self.db.close()

    def _on_stored(self, delivery: object) -> None:
        if self.worker is not None:
            self.worker.notify(delivery)  # type: ignore[arg-type]

    async def _convert_manifest(self, code: str) -> dict[str, object]:
        assert self.session is not None
        return await convert_manifest(self.session, self.settings.github_api_url, code)

    # --- routes -----------------------------------------------------------------------------
    async def _webhook(self, request: web.Request) -> web.Response:
        assert self.intake is not None
        return await self.intake.handle(request)

    async def _index(self, request: web.Request) -> web.Response:
        if not self.settings.app_configured:
            return await self.setup.page(request)
        body = (
            "<!doctype html><title>codegen-bot</title><h1>codegen-bot is running</h1>"
            f"<p>GitHub App {html.escape(str(self.settings.github_app_id))};"
            " webhooks at <code>/webhook</code>.</p>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _artifact(self, request: web.Request) -> web.StreamResponse:
        """A screenshot or trace of a web evaluation, behind a signed, expiring URL (403 otherwise)."""
        store = artifact_store(self.settings)
        validation, name = request.match_info["validation"], request.match_info["name"]
        query = request.rel_url.query
        if not store.verify(validation, name, query.get("expires", ""), query.get("sig", "")):
            return web.json_response({"error": "invalid or expired artifact link"}, status=403)
        path = store.path_for(validation, name)
        if path is None or not await asyncio.to_thread(path.is_file):
            return web.json_response({"error": "no such artifact"}, status=404)
        content_type = "image/png" if name.endswith(".png") else "application/zip"
        return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": "private, max-age=3600",
                                               "X-Content-Type-Options": "nosniff"})

    async def _healthz(self, _request: web.Request) -> web.Response:
        ok = self.db is not None and await self.db.reachable()
        return web.json_response(
            {"status": "ok" if ok else "store unreachable", "app_configured": self.settings.app_configured},
            status=200 if ok else 503,
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self.db is not None:
            self.metrics.queue_depth.set(await self.deliveries.pending_count())
        return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})
