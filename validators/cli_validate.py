"""`codegen-bot validate PATH [--base REF] [--json]`: the validation pipeline on a local checkout, no GitHub.

Decisions:
- What is validated: the tracked files of the working tree, uncommitted changes included (`git stash
  create` makes a commit object of them without touching the checkout); untracked files are not, as
  they would not be in a pull request either.
- The config is that tree's `.github/codegen.yml` (no file: the documented defaults; `_extends` is not
  followed locally). Analysis covers the files changed since `--base` (`git diff --name-only`), or every
  tracked file when no base is given.
- Exit codes: 0 every stage passed (or was skipped), 1 a stage failed, 2 misconfigured (not a git
  checkout, invalid config, no Docker engine).
- Web evaluation (when the config has pages or flows) writes its screenshots and traces under
  `./codegen-bot-artifacts/<id>/` (or `$CODEGEN_BOT_ARTIFACTS`) and prints their paths.
- `SNAPSHOT_CA_BUNDLE` and `SNAPSHOT_ALLOWED_IMAGES` are honoured as in the bot, so pip works behind a
  TLS-inspecting proxy and the same images are allowed.
- `snapshot.secrets` come from this shell's `CODEGEN_SECRET_<NAME>` variables (no secrets file: it is the
  bot's); a name without one is said on stderr and the validation runs without it.
- The snapshot's firewall (validators/firewall.py) needs root. Run by another user, the validation runs on
  its own networks without it, and says so on stderr: it is the developer's own code on their own machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from config.loader import load_text
from config.schema import RepoConfig
from config.secrets import ENV_PREFIX
from validators.image_policy import parse_allowed
from validators.outcome import StageOutcome
from validators.pipeline import ValidationRequest, validate
from validators.web_eval.runner import evaluate

SYMBOL = {"success": "✔", "skipped": "–", "neutral": "•", "failure": "✘", "timed_out": "⏱", "cancelled": "✘"}


class Misconfigured(Exception):
    pass


def _git(path: Path, *args: str) -> str:
    run = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True)
    if run.returncode != 0:
        raise Misconfigured(f"git {' '.join(args)}: {run.stderr.strip() or run.stdout.strip()}")
    return run.stdout.strip()


def _snapshot_commit(path: Path) -> str:
    stashed = _git(path, "stash", "create")
    return stashed or _git(path, "rev-parse", "HEAD")


def _tree_file(path: Path, sha: str, name: str) -> bytes | None:
    run = subprocess.run(["git", "show", f"{sha}:{name}"], cwd=path, capture_output=True)
    return run.stdout if run.returncode == 0 else None


class Printer:
    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out, self.quiet = out, quiet

    async def stage_started(self, stage: str) -> None:
        if not self.quiet:
            print(f"… {stage}", file=self.out, flush=True)

    async def stage_finished(self, outcome: StageOutcome) -> None:
        if self.quiet:
            return
        print(f"{SYMBOL.get(outcome.conclusion, '?')} {outcome.title} ({outcome.duration:.1f} s)", file=self.out)
        if outcome.conclusion in ("failure", "timed_out"):
            if outcome.text:
                tail = "\n".join(outcome.text.rstrip().splitlines()[-30:])
                print("    " + tail.replace("\n", "\n    "), file=self.out)
            for a in outcome.annotations[:20]:
                print(f"    {a.path}:{a.start_line}: {a.level}: {a.title}: {a.message}", file=self.out)
        for item in outcome.details.get("items", []):
            mark = "✔" if item["passed"] else f"✘ {item['failing_step']}: {item['reason']}"
            print(f"    {item['kind']} {item['name']}: {mark}", file=self.out)
            for path in [*item["screenshots"], *([item["trace"]] if item["trace"] else [])]:
                print(f"      {path}", file=self.out)
        self.out.flush()


@dataclass
class Prepared:
    sha: str
    config: RepoConfig
    changed: dict[str, bytes | None]
    source: bytes


def prepare(path: Path, base: str | None) -> Prepared:
    """Blocking: the commit, its config, the files to analyse and the tree as a tar."""
    _git(path, "rev-parse", "--git-dir")
    top = Path(_git(path, "rev-parse", "--show-toplevel"))
    prefix = _git(path, "rev-parse", "--show-prefix")  # PATH may be a folder inside a repository
    sha = _snapshot_commit(top)
    tree = f"{sha}:{prefix}" if prefix else sha
    text = _tree_file(top, sha, f"{prefix}.github/codegen.yml")
    loaded = load_text(text.decode("utf-8", errors="replace") if text is not None else "", ".github/codegen.yml")
    if not loaded.ok or loaded.config is None:
        raise Misconfigured("\n".join(str(e) for e in loaded.errors))
    if base:
        names = _git(path, "diff", "--relative", "--name-only", "--diff-filter=ACMR", base, sha).splitlines()
    else:
        names = _git(top, "ls-tree", "-r", "--name-only", tree).splitlines()
    changed = {name: _tree_file(top, sha, f"{prefix}{name}") for name in names if name}
    archive = subprocess.run(["git", "archive", "--format=tar", tree], cwd=top, capture_output=True)
    if archive.returncode != 0:
        raise Misconfigured(f"git archive: {archive.stderr.decode(errors='replace').strip()}")
    return Prepared(sha, loaded.config, changed, archive.stdout)


def local_secrets(config: RepoConfig, environ: Mapping[str, str], err: TextIO) -> dict[str, str]:
    """The configured secrets from `CODEGEN_SECRET_<NAME>` variables; the missing ones are said on `err`."""
    given = {name: environ[ENV_PREFIX + name] for name in config.snapshot.secrets if ENV_PREFIX + name in environ}
    missing = [ENV_PREFIX + name for name in config.snapshot.secrets if name not in given]
    if missing:
        print(f"codegen-bot validate: {', '.join(missing)} not set: the steps run without them", file=err)
    return given


async def run_validate(path: Path, base: str | None, as_json: bool, out: TextIO) -> int:
    import docker

    try:
        prepared = await asyncio.to_thread(prepare, path, base)
        try:
            client = await asyncio.to_thread(docker.from_env)
            await asyncio.to_thread(client.ping)
        except Exception as exc:
            raise Misconfigured(f"no Docker engine answers: {exc}") from None
    except Misconfigured as exc:
        print(f"codegen-bot validate: {exc}", file=sys.stderr)
        return 2
    ca = os.environ.get("SNAPSHOT_CA_BUNDLE")
    name = await asyncio.to_thread(lambda: path.resolve().name)
    validation_id = uuid.uuid4().hex[:12]
    folder = Path(os.environ.get("CODEGEN_BOT_ARTIFACTS", "codegen-bot-artifacts")) / validation_id

    async def save(artifact: str, data: bytes) -> str:
        def write() -> str:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / artifact).write_bytes(data)
            return str((folder / artifact).resolve())

        return await asyncio.to_thread(write)

    async def web_eval(base_url: str, config: RepoConfig, _validation: str, *, network: str | None = None,
                       app_host: str | None = None) -> StageOutcome:
        chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
        return await evaluate(base_url, config.web_eval, save, chromium, network=network, app_host=app_host)

    root = os.geteuid() == 0
    if not root:
        print("codegen-bot validate: not root, so the snapshot runs without its firewall", file=sys.stderr)
    request = ValidationRequest(
        validation_id=validation_id, repo=name, sha=prepared.sha, config=prepared.config,
        source_tar=prepared.source, changed_files=prepared.changed, docker=client,
        ca_bundle=Path(ca) if ca else None, web_eval=web_eval,
        allowed_images=parse_allowed(os.environ.get("SNAPSHOT_ALLOWED_IMAGES")), firewall_required=root,
        secrets=local_secrets(prepared.config, os.environ, sys.stderr),
    )
    try:
        report = await validate(request, Printer(out if not as_json else sys.stderr, quiet=as_json))
    finally:
        client.close()
    if as_json:
        print(json.dumps(report.to_json(), indent=2), file=out)
    else:
        verdict = "passed" if report.passed else "FAILED"
        print(f"\n{verdict}: {name} at {prepared.sha[:12]} in {report.wall_time:.1f} s", file=out)
    return 0 if report.passed else 1
