"""The validation pipeline: one commit, one throw-away container, stage after stage.

This module is the orchestration only; each stage lives in its own module under validators/stages/:

    analysis  stages/analysis.py — tree-sitter over the changed files (no container needed; runs first, so a
              syntax error is reported within seconds even when the build takes minutes)
    build     the validation's networks are created (validators/sandbox_network.py: an internal app network,
              and an egress network unless `snapshot.network: none`, both behind the firewall), then
              stages/container.py checks the image against the operator's allow-list and starts the
              container (image, Dockerfile or setup-cache image), then stages/build.py runs `snapshot.setup`,
              cuts the way out (`setup-only`), then runs `snapshot.build` (with `snapshot.cache_setup`:
              stages/cached_build.py)
    test      stages/test.py — `snapshot.test` commands
    deploy    stages/deploy.py — `snapshot.deploy` started in the background, then `health_check` polled at
              the app's address on the internal network
    web-eval  stages/web_eval.py — (when configured) browser checks against the deployed app, see
              validators/web_eval

A stage with nothing configured is `skipped` ("nothing runs that the file does not ask for"). A failing
stage stops the later container stages (they end `skipped`, saying why). The whole run is bounded by
`snapshot.timeout_minutes`; each command by `snapshot.step_timeout_minutes`.

An image that is not allowed, cannot be pulled or does not build fails `build` with the reason as its
summary; the later stages are skipped.

Cancellation (a newer push): the container is stopped at once, unfinished stages end `cancelled` (from
`analysis` on: a cancellation during `analysis` ends every stage too), and the `CancelledError` propagates.
The container is always removed, then its networks and their firewall rules.

The pipeline knows nothing of GitHub: a `StageListener` hears when stages start and finish (the GitHub
reporter turns that into check runs; the CLI prints it).

Secrets (`req.secrets`, docs/secrets.md): given per command to `build`, `test` and the deployed app only,
and masked (validators/masking.py) in every outcome before the listener or the report sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import requests

from validators.image import ImageBuildError, ImagePullError
from validators.image_policy import ImageRefused
from validators.masking import SecretMask
from validators.outcome import StageOutcome, ValidationReport
from validators.request import ValidationRequest, WebEval
from validators.sandbox_network import SandboxNetwork
from validators.snapshot import Snapshot
from validators.stages.analysis import run_analysis
from validators.stages.build import run_build
from validators.stages.container import (
    CACHE_ENV,
    CACHE_MOUNTS,
    cache_volumes,
    check_allowed,
    choose_image,
    container_needed,
    create_container,
    labels_of,
    load_source,
)
from validators.stages.deploy import run_deploy
from validators.stages.skips import EARLIER_STAGE_FAILED, nothing_to_run, skipped
from validators.stages.test import run_test
from validators.stages.web_eval import run_web_eval

__all__ = [
    "CACHE_ENV",
    "CACHE_MOUNTS",
    "NullListener",
    "StageListener",
    "ValidationRequest",
    "WebEval",
    "cache_volumes",
    "validate",
]

log = logging.getLogger(__name__)

#: the stages after `analysis`, in order; all but `web-eval` run in the container
CONTAINER_STAGES = ("build", "test", "deploy", "web-eval")
#: what makes the image unusable: reported as `build`'s failure, in the repository's words
IMAGE_ERRORS = (ImageRefused, ImageBuildError, ImagePullError)


class StageListener(Protocol):
    async def stage_started(self, stage: str) -> None: ...

    async def stage_finished(self, outcome: StageOutcome) -> None: ...


class NullListener:
    async def stage_started(self, stage: str) -> None:
        return None

    async def stage_finished(self, outcome: StageOutcome) -> None:
        return None


async def validate(req: ValidationRequest, listener: StageListener | None = None) -> ValidationReport:
    """Run every stage for one commit; always removes the container."""
    run = _Validation(req, listener or NullListener())
    try:
        await run.listener.stage_started("analysis")
        await run.finish(await run_analysis(req))
        if container_needed(req):
            await run.in_container()
        else:
            await run.skip_container_stages()
    except asyncio.CancelledError:
        await run.cancel_pending()  # cancelled in `analysis` too: no stage is left queued or in progress
        raise
    finally:
        run.report.finished_at = time.time()
    return run.report


T = TypeVar("T")


async def _even_if_cancelled(make: Awaitable[T], keep: Callable[[T], None]) -> T:
    """Await the creation of a Docker object; cancelled meanwhile (a newer push), the creation still ends (its
    thread would anyway) and `keep` gets the object, so the validation's clean-up removes it."""
    task = asyncio.ensure_future(make)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            keep(await task)
        raise


class _Validation:
    """One validation under way: the report it fills, the stages still pending, and its container."""

    def __init__(self, req: ValidationRequest, listener: StageListener) -> None:
        self.req = req
        self.listener = listener
        self.report = ValidationReport(req.validation_id, req.repo, req.sha, started_at=time.time())
        self.deadline = time.monotonic() + req.config.snapshot.timeout_minutes * 60
        self.pending = ["analysis", *CONTAINER_STAGES]
        self.snapshot: Snapshot | None = None
        self.network: SandboxNetwork | None = None
        self.failed = False
        self.mask = SecretMask.of(req.secrets.values())

    async def finish(self, outcome: StageOutcome) -> None:
        """Record a stage's outcome, masked for the secrets, and tell the listener."""
        outcome = self.mask.outcome(outcome)
        if outcome.stage == "build" and self.req.secrets_note and outcome.conclusion != "cancelled":
            outcome.summary = f"{self.req.secrets_note}\n\n{outcome.summary}"
        self.report.outcomes[outcome.stage] = outcome
        if outcome.stage in self.pending:
            self.pending.remove(outcome.stage)
        await self.listener.stage_finished(outcome)

    async def skip_container_stages(self) -> None:
        """No command is configured: no container; every later stage is skipped."""
        for stage in list(self.pending):
            if stage == "web-eval":
                await self.finish(await run_web_eval(self.req, None, earlier_failed=False))
            else:
                await self.finish(nothing_to_run(stage))

    async def in_container(self) -> None:
        """The container stages; on cancellation or an error the pending ones end so, and the container goes."""
        try:
            await self._container_stages()
        except asyncio.CancelledError:
            await self.cancel_pending()
            raise
        except IMAGE_ERRORS as exc:
            await self._image_failed(exc)
        except Exception as exc:
            log.exception("validation %s failed to run", self.req.validation_id)
            await self._fail_pending(exc)
        finally:
            await asyncio.shield(self._remove())

    async def _remove(self) -> None:
        """The container first, then its networks (and their firewall rules)."""
        if self.snapshot is not None:
            with contextlib.suppress(Exception):
                await self.snapshot.remove()
        if self.network is not None:
            try:
                await self.network.remove()
            except Exception:
                log.exception("could not remove the networks of validation %s", self.req.validation_id)

    async def _container_stages(self) -> None:
        req, deadline = self.req, self.deadline
        await self.listener.stage_started("build")
        await asyncio.to_thread(check_allowed, req)  # before anything is created, pulled or built
        self.network = network = await _even_if_cancelled(SandboxNetwork.create(
            req.docker, policy=req.config.snapshot.network, labels=labels_of(req),
            firewall_required=req.firewall_required, firewall_host=req.firewall_host), self._keep_network)
        image, cached = await choose_image(req, network, deadline)
        self.snapshot = snapshot = await _even_if_cancelled(create_container(req, image, network),
                                                            self._keep_snapshot)
        await load_source(snapshot, cached, req.source_tar)
        await self._unless_failed("build", lambda: run_build(snapshot, cached, req, deadline))
        await snapshot.end_setup()  # (when `build` had nothing to run)
        await self.listener.stage_started("test")
        await self._unless_failed("test", lambda: run_test(snapshot, req, deadline))
        await self.listener.stage_started("deploy")
        await self._unless_failed("deploy", lambda: run_deploy(req, snapshot, deadline))
        await self.listener.stage_started("web-eval")
        await self.finish(await run_web_eval(req, snapshot, earlier_failed=self.failed))

    def _keep_network(self, network: SandboxNetwork) -> None:
        self.network = network

    def _keep_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    async def _unless_failed(self, stage: str, run: Callable[[], Awaitable[StageOutcome]]) -> None:
        """Run a container stage, or skip it when an earlier one failed."""
        outcome = skipped(stage, EARLIER_STAGE_FAILED) if self.failed else await run()
        self.failed = self.failed or not outcome.passed
        await self.finish(outcome)

    async def cancel_pending(self) -> None:
        """Stop the container and end every stage not finished `cancelled` (a second call finds none)."""
        if not self.pending:
            return
        if self.snapshot is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.snapshot.stop())
        stages, self.pending = self.pending, []
        for stage in stages:
            outcome = StageOutcome(stage, "cancelled", f"{stage}: cancelled", "A newer commit replaced this one.")
            self.report.outcomes[stage] = outcome
            with contextlib.suppress(Exception):
                await asyncio.shield(self.listener.stage_finished(outcome))

    async def _image_failed(self, exc: Exception) -> None:
        """The image is refused, or could not be pulled or built: `build` fails with why, the rest is skipped."""
        title = ("build: image not allowed" if isinstance(exc, ImageRefused) else
                 "build: the image could not be built" if isinstance(exc, ImageBuildError) else
                 "build: the image could not be pulled")
        await self.finish(StageOutcome("build", "failure", title, str(exc).split("\n", 1)[0],
                                       text=str(exc) if "\n" in str(exc) else None))
        for stage in list(self.pending):
            await self.finish(skipped(stage, EARLIER_STAGE_FAILED))

    async def _fail_pending(self, exc: Exception) -> None:
        if isinstance(exc, requests.ConnectionError):  # the engine died or became unreachable mid-validation
            for stage in list(self.pending):
                await self.finish(StageOutcome(
                    stage, "failure", f"{stage}: interrupted",
                    "The Docker engine running this validation stopped answering"
                    f" (`{type(exc).__name__}`); the validation was interrupted. Press Re-run to try again."))
            return
        for stage in list(self.pending):
            await self.finish(StageOutcome(stage, "failure", f"{stage}: could not run",
                                           f"The snapshot could not be prepared: `{type(exc).__name__}: {exc}`"))
