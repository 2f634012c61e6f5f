"""The `web-eval` stage: when configured, browser checks against the deployed app.

This module only decides whether the stage runs and tells it where the app is; the checks themselves are the
request's `web_eval` callable (validators/web_eval), whose browser always runs in a container of its own.

The callable gets `Snapshot.app_url` (where the bot reaches the app) and the keywords `network=` (the
snapshot's internal app network, which the browser container joins) and `app_host=` (the app's name on it).
`where_kwargs` passes those keywords only to a callable that takes them (one written before snapshots had
networks gets the URL alone; `evaluate` then finds the network by the app's address). A callable with a
`docker` parameter also gets the snapshot's engine (`DOCKER_HOSTS`): the browser runs there.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from validators.outcome import StageOutcome
from validators.request import ValidationRequest
from validators.snapshot import Snapshot
from validators.stages.skips import NO_WEB_EVAL, NOT_DEPLOYED, skipped


def _takes(function: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name for p in params)  # named: a `**where` callable keeps getting the two keywords


def web_eval_wanted(req: ValidationRequest) -> bool:
    return req.web_eval is not None and req.config.web_eval.enabled


def where_kwargs(function: Callable[..., Any], network: str | None, app_host: str | None) -> dict[str, str]:
    """`{"network": ..., "app_host": ...}` when both are known and `function` takes them, else `{}`."""
    if network is None or not app_host:
        return {}
    try:
        params = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return {}
    takes = {"network", "app_host"} <= {p.name for p in params}
    if takes or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return {"network": network, "app_host": app_host}
    return {}


async def run_web_eval(req: ValidationRequest, snapshot: Snapshot | None, earlier_failed: bool) -> StageOutcome:
    """`snapshot` is None when no container was needed (then nothing was deployed)."""
    if not web_eval_wanted(req) or req.web_eval is None:
        return skipped("web-eval", NO_WEB_EVAL)
    if earlier_failed or not req.config.snapshot.deploy or snapshot is None or snapshot.app_url is None:
        return skipped("web-eval", NOT_DEPLOYED)
    where: dict[str, Any] = dict(where_kwargs(req.web_eval, snapshot.app_network, snapshot.app_address))
    if where and _takes(req.web_eval, "docker"):
        where["docker"] = req.docker  # the browser runs on the snapshot's engine (DOCKER_HOSTS)
    return await req.web_eval(snapshot.app_url, req.config, req.validation_id, **where)
