"""The HTTP face of the bot: webhook intake, setup page, health and metrics.

Routes: `POST /webhook`, `GET /` (setup page until the App is registered, then a status page),
`GET /setup/callback`, `GET /healthz` (200 when the store answers, else 503), `GET /metrics`,
`GET /artifacts/{validation}/{name}` (signed links), and the features' pages (`PageRoute`, e.g. `/status`):
declared when the server is made, answered by the handlers the features bring (`Features.pages`), 404 until
the App is configured. A page marked `operator` is served on ADMIN_HOST:ADMIN_PORT instead when ADMIN_PORT
is set (like `/metrics`), and its request carries `request[ADMIN_ADDRESS] = True` there.

The server knows no feature: once the App is configured it calls `compose` (the composition root,
entrypoints/app.py) with the store, the HTTP session and the job queue, and gets back the router, what each
delivery's callbacks receive, and the start-up and shutdown hooks (`Features`).
"""

from __future__ import annotations

import asyncio
import html
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from gidgethub import routing

from bot.dispatch.claims import JOBS_CHANNEL, default_replica_id
from bot.dispatch.delivery_claims import DELIVERIES_CHANNEL, DeliveryClaims
from bot.dispatch.jobs import JobQueue
from bot.dispatch.worker import DeliveryWorker, HandlerArgs
from bot.github.client import convert_manifest
from bot.intake.acceptance import MAX_BODY, WebhookIntake
from bot.intake.pacing import HandlingPacer, IntakePressure
from bot.runtime.artifacts import artifact_store
from bot.runtime.metrics import Metrics
from bot.runtime.redaction import register_secret
from bot.runtime.setup_page import SetupFlow
from bot.store.db import Database, open_database
from bot.store.deliveries import DeliveryStore
from bot.store.delivery_keys import body_ordering_key
from bot.store.migrations import MIGRATIONS
from config.settings import Settings, load_settings

log = logging.getLogger(__name__)

DEFAULT_APP_YML = Path(__file__).resolve().parents[2] / "app.yml"


def manifest_path(settings: Settings) -> Path:
    """The App manifest the setup page serves: `APP_MANIFEST_PATH`, else `app.yml` in the working
    directory, else the one beside the source tree (an installed package has none there: the image sets
    `APP_MANIFEST_PATH=/app/app.yml`)."""
    if settings.app_manifest_path is not None:
        return settings.app_manifest_path
    here = Path.cwd() / "app.yml"
    return here if here.is_file() else DEFAULT_APP_YML
Hook = Callable[[], Awaitable[None]]
PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: `request[ADMIN_ADDRESS]`: True when a page is served on the admin address (ADMIN_HOST:ADMIN_PORT)
ADMIN_ADDRESS = web.RequestKey("admin_address", bool)


@dataclass(frozen=True)
class PageRoute:
    """A feature's web page: its route, and the name of its handler in `Features.pages`."""

    method: str
    path: str
    name: str
    #: served on the admin address instead of HOST:PORT when ADMIN_PORT is set
    operator: bool = False


@dataclass(frozen=True)
class Features:
    """What the composition root hands the engine once the App is configured."""

    router: routing.Router
    #: resolves, once per delivery, what every callback receives after the event (None: nothing to do)
    handler_args: HandlerArgs
    #: run once before the job queue starts (e.g. removing snapshots a crash left behind)
    on_start: Sequence[Hook] = ()
    #: run when the services stop (closing clients)
    on_stop: Sequence[Hook] = ()
    #: the services, for tests and benches that look inside (the engine never does)
    services: object = field(default=None, compare=False)
    #: the handlers of the pages declared with `BotServer(pages=...)`, by name
    pages: Mapping[str, PageHandler] = field(default_factory=dict, compare=False)


#: the composition root: builds every service on the store, session and job queue of a configured App
Compose = Callable[[Settings, Database, aiohttp.ClientSession, JobQueue], Features]


class BotServer:
    def __init__(
        self, settings: Settings, compose: Compose, *, app_yml: Path | None = None,
        env_path: Path = Path(".env"), pages: Sequence[PageRoute] = (),
    ) -> None:
        self.settings = settings
        self.pages = tuple(pages)
        self.compose = compose
        self.app_yml = app_yml or manifest_path(settings)
        self.env_path = env_path
        self.metrics = Metrics()
        self.db: Database | None = None
        self.session: aiohttp.ClientSession | None = None
        self.worker: DeliveryWorker | None = None
        self.intake: WebhookIntake | None = None
        self.jobs: JobQueue | None = None
        self.features: Features | None = None
        #: PostgreSQL: several replicas share the store (claims under leases, LISTEN/NOTIFY)
        self.listener: Any = None
        #: told the webhook secret whenever the intake process is (re)built (the intake processes keep a copy)
        self.secret_listeners: list[Callable[[str | None], None]] = []
        for secret in settings.secret_values():
            register_secret(secret)

    @property
    def services(self) -> Any:
        """The feature services of the running App (None until configured); for tests and benches."""
        return self.features.services if self.features is not None else None

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
            is_configured=lambda: self.settings.app_configured,
        )
        self.setup = setup
        app.router.add_post("/webhook", self._webhook)
        app.router.add_get("/", self._index)
        app.router.add_get("/setup/callback", setup.callback)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._public_metrics)
        app.router.add_get("/artifacts/{validation}/{name}", self._artifact)
        for page in self.pages:
            if not (page.operator and self.settings.admin_port is not None):
                app.router.add_route(page.method, page.path, self._page(page.name, admin=False))
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, _app: web.Application) -> None:
        self.db = await open_database(self.settings.database_url, MIGRATIONS)
        self.session = aiohttp.ClientSession()
        shared = self.shared_store
        self.deliveries = DeliveryStore(
            self.db, replay_check=self.settings.webhook_replay_check,
            order_key=body_ordering_key if shared else None, notify=DELIVERIES_CHANNEL if shared else None,
        )
        if shared:
            self._listen()
        await self._start_services()

    @property
    def shared_store(self) -> bool:
        """PostgreSQL: any number of replicas may share the store, its deliveries and its jobs."""
        return self.db is not None and self.db.dialect == "postgresql"

    @property
    def replica_id(self) -> str:
        return self.settings.replica_id or default_replica_id(self.settings.port)

    def _listen(self) -> None:
        """Wake this replica's worker and job queue when another replica stores a delivery or queues a job."""
        from bot.store.pg_listen import Listener  # psycopg is loaded only when PostgreSQL is used

        def deliveries(_payload: str) -> None:
            if self.worker is not None:
                self.worker.wake()

        def jobs(payload: str) -> None:
            if self.jobs is not None:
                self.jobs.notice(payload)

        self.listener = Listener(getattr(self.db, "url", ""), {DELIVERIES_CHANNEL: deliveries, JOBS_CHANNEL: jobs})
        self.listener.start()

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
            self._print_setup_link()
            return
        lease = self.settings.job_lease_seconds
        self.jobs = JobQueue(self.db, metrics=self.metrics, owner=self.replica_id, lease=lease)
        self.features = self.compose(self.settings, self.db, self.session, self.jobs)
        for hook in self.features.on_start:  # before the queue re-runs the work a crash interrupted
            await hook()
        await self.jobs.start()
        self.worker = DeliveryWorker(
            store=self.deliveries,
            router=self.features.router,
            handler_args=self.features.handler_args,
            metrics=self.metrics,
            concurrency=self.settings.handling_concurrency,
            pacer=HandlingPacer(self.pressure, self.settings.worker_rate_under_load),
            claims=DeliveryClaims(self.db, self.replica_id, lease) if self.shared_store else None,
        )
        await self.worker.start()
        log.info("codegen-bot ready", extra={"app_id": self.settings.github_app_id})

    def _print_setup_link(self) -> None:
        """The one-time setup link goes to the console only (never to the log: it is a credential)."""
        base = self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        link = self.setup.setup_link(base)
        if link is not None:
            print(f"codegen-bot: to register the GitHub App, open {link}", file=sys.stderr, flush=True)

    async def _reconfigure(self) -> None:
        """After the manifest flow wrote `.env`: reload settings and start handling webhooks."""
        written = {"github_app_id", "github_private_key", "github_private_key_path", "github_webhook_secret",
                   "github_client_id", "github_client_secret"}
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
        if self.features is not None:
            for hook in self.features.on_stop:
                await hook()
        self.features = None

    async def _cleanup(self, _app: web.Application) -> None:
        await self._stop_services()
        if self.listener is not None:
            await self.listener.stop()
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
            " webhooks at <code>/webhook</code>.</p><p><a href=\"/status\">Status page</a> (sign in with GitHub)</p>"
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

    def make_admin_app(self) -> web.Application:
        """`/metrics` and `/healthz` on ADMIN_HOST:ADMIN_PORT (served by entrypoints/serve.py when set)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        for page in self.pages:
            if page.operator:
                app.router.add_route(page.method, page.path, self._page(page.name, admin=True))
        return app

    def _page(self, name: str, *, admin: bool) -> PageHandler:
        async def handle(request: web.Request) -> web.StreamResponse:
            handler = self.features.pages.get(name) if self.features is not None else None
            if handler is None:
                raise web.HTTPNotFound(text="not available until the GitHub App is configured")
            request[ADMIN_ADDRESS] = admin
            return await handler(request)

        return handle

    async def _public_metrics(self, request: web.Request) -> web.Response:
        if self.settings.admin_port is not None:
            raise web.HTTPNotFound(text="metrics are served on the admin address")
        return await self._metrics(request)

    async def _metrics(self, _request: web.Request) -> web.Response:
        if self.db is not None:
            self.metrics.queue_depth.set(await self.deliveries.pending_count())
            await self.metrics.refresh()  # the counts of what the store holds (jobs, agent runs)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})
