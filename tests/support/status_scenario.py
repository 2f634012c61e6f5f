"""A world for the status page's tests: two repositories of one installation, what the bot recorded of them,
and the bot signed up for GitHub sign-in against the fake GitHub.

- `octo-org/shop` (public): alice can read it (and bob); a passed validation of PR #7 with a build log, a failed
  one of PR #8, a fork PR #9 held for `ok-to-test`, an agent run on #7, PR #7 in the bot's merge train.
- `octo-org/vault` (private): only bob can read it; a failed validation whose log says `VAULT_LOG_LINE`.
- bob is in the admin team `octo-org/bot-admins` (STATUS_ADMIN_TEAM): an operator; alice is not.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot

SHOP, VAULT = "octo-org/shop", "octo-org/vault"
ADMIN_TEAM = "octo-org/bot-admins"
BUILD_LOG = "$ npm ci\nadded 812 packages in 9s\n$ npm run build\nbuild finished: dist/app.js (41 kB)"
VAULT_LOG_LINE = "vault-internal-build-step-output"
#: head commits of shop's PRs #7, #8, #9 and vault's #3
SHAS = ("3f9c2e1a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e", "8d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e",
        "c47b3a29e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3", "e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6")


@dataclass
class StatusScene:
    bot: RunningBot
    fake: FakeGitHub
    passed_id: str
    vault_id: str


def status_settings(fake: FakeGitHub, **overrides: Any) -> dict[str, Any]:
    return {"github_client_id": fake.app.client_id, "github_client_secret": fake.app.client_secret,
            "github_url": fake.url, "status_admin_team": ADMIN_TEAM, **overrides}


def _report(validation_id: str, repo: str, sha: str, conclusion: str, log: str) -> dict[str, Any]:
    step = {"command": "npm run build", "exit_code": 0 if conclusion == "success" else 1, "duration": 12.4,
            "timed_out": False, "output_tail": log, "oom_killed": False}
    build = {"stage": "build", "conclusion": conclusion, "title": "Build passed" if conclusion == "success" else
             "Build failed", "summary": "", "text": None, "annotations": [], "steps": [step], "duration": 13.1,
             "failing_step": None, "details": {}}
    return {"validation_id": validation_id, "repo": repo, "sha": sha, "outcomes": {"build": build},
            "started_at": 0.0, "finished_at": 0.0, "misconfigured": [], "passed": conclusion == "success"}


async def _validation(bot: RunningBot, repo: str, pr: int, sha: str, inst: int, *, conclusion: str | None,
                      log: str = "", state: str = "done") -> str:
    store = bot.server.services.validation.store
    record = await store.create(repo=repo, pr_number=pr, head_sha=sha, head_ref=f"feature-{pr}", clone_url=None,
                                installation_id=inst, state=state, trigger="pull_request")
    if conclusion is not None:
        await store.update(record.id, passed=conclusion == "success", started_at=record.created_at,
                           finished_at=record.created_at + 13.1, check_runs={"build": 1000 + pr},
                           report=_report(record.id, repo, sha, conclusion, log))
    return record.id


async def status_scene(fake: FakeGitHub, start_bot: Callable[..., Awaitable[RunningBot]],
                       **overrides: Any) -> StatusScene:
    inst = fake.add_installation("octo-org", [SHOP, VAULT])
    fake.add_repo(VAULT, private=True)
    fake.set_permission(SHOP, "alice", "read")
    fake.set_permission(SHOP, "bob", "write")
    fake.set_permission(VAULT, "bob", "admin")
    fake.add_team_member("octo-org", "bot-admins", "bob")
    bot = await start_bot(**status_settings(fake, **overrides))
    fake.add_callback_url(f"{bot.url}/status/callback")
    services = bot.server.services
    await services.installations.upsert(inst.id, "octo-org", "Organization")
    passed = await _validation(bot, SHOP, 7, SHAS[0], inst.id, conclusion="success", log=BUILD_LOG)
    await _validation(bot, SHOP, 8, SHAS[1], inst.id, conclusion="failure", log="error TS2304: Cannot find name")
    await _validation(bot, SHOP, 9, SHAS[2], inst.id, conclusion=None, state="held")
    vault = await _validation(bot, VAULT, 3, SHAS[3], inst.id, conclusion="failure", log=VAULT_LOG_LINE)
    run = await services.agent_runs.create(repo=SHOP, number=7, thread_kind="pull_request", installation_id=inst.id,
                                           command="start", requested_by="alice", command_comment_id=1)
    await services.agent_runs.update(run.id, status="running", web_url="https://codegen.example/runs/1")
    await services.merge.prs.set(SHOP, 7, merge_requested_by="alice", merge_requested_sha=SHAS[0],
                                 train_ready_at=time.time() - 420, train_base="main")
    return StatusScene(bot, fake, passed, vault)
