"""What one validation is asked to check: the commit, its config and tree, and where to run it.

`ValidationRequest` is the input of `validators.pipeline.validate` (and is importable from there); the stage
modules under `validators/stages/` read it too, which is why it lives apart from the orchestration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import docker

from config.schema import RepoConfig
from validators.firewall import FirewallHost
from validators.health import HealthResult
from validators.image_policy import DEFAULT_ALLOWED_IMAGES
from validators.outcome import StageOutcome

if TYPE_CHECKING:
    from validators.snapshot import Snapshot

#: the deploy stage's health check made from inside the engine: (snapshot, url, seconds) → result
HealthProbe = Callable[["Snapshot", str, float], Awaitable[HealthResult]]


class WebEval(Protocol):
    """The optional stage run after a healthy deploy.

    `base_url` is where the bot, on the host, reaches the app (its address on the snapshot's internal
    network); `network` is that network's name and `app_host` the app's name on it, for a browser that runs
    in a container joined to it.
    """

    def __call__(self, base_url: str, config: RepoConfig, validation_id: str, *, network: str | None = None,
                 app_host: str | None = None) -> Awaitable[StageOutcome]: ...


@dataclass
class ValidationRequest:
    validation_id: str
    repo: str
    sha: str
    config: RepoConfig
    source_tar: bytes
    #: changed files (path → content, None when deleted) for the analysis stage
    changed_files: Mapping[str, bytes | None]
    docker: docker.DockerClient
    ca_bundle: Path | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    web_eval: WebEval | None = None
    #: False for code a maintainer approved with `/codegen ok-to-test` (a fork's PR from a non-collaborator):
    #: such code may read nothing it could poison for later runs, so it gets no dependency cache volumes and
    #: never writes a `snapshot.cache_setup` image (it may still start from one that trusted code wrote)
    shared_caches: bool = True
    #: the repository's numeric GitHub id: the key of its caches and images (else a hash of `repo`)
    repo_id: int | None = None
    #: the operator's allow-list of images (`SNAPSHOT_ALLOWED_IMAGES`, globs; validators/image_policy.py)
    allowed_images: tuple[str, ...] = DEFAULT_ALLOWED_IMAGES
    #: False only where running without the snapshot firewall is acceptable and said (`codegen-bot validate`
    #: by a user who is not root); the bot always requires it
    firewall_required: bool = True
    #: the operator's secrets (NAME → value) given to the `build` and `test` commands and the deployed app, as
    #: each one's `docker exec` environment: never the container's own (a setup image would keep it), never
    #: `setup`, never the browser. Empty for fork code (handlers/validation/runner.py decides). Every output
    #: of the validation is masked for them (validators/masking.py).
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: put at the top of `build`'s summary: why `snapshot.secrets` were not given (fork code)
    secrets_note: str | None = None
    #: an engine on another host (DOCKER_HOSTS; validators/engine_host.py): where the snapshot firewall's rules
    #: go (None: this machine) and how the health check reaches the app (None: from the bot, at `app_url`)
    firewall_host: FirewallHost | None = None
    health_probe: HealthProbe | None = None
