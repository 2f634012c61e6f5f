"""POST /webhook on the real server: verification, statuses, durability, duplicates, every recorded payload."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.dispatch.jobs import Job
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET, RunningBot
from tests.support.webhooks import all_payload_files, headers_for, payload, sign

StartBot = Callable[..., Awaitable[RunningBot]]


def stored(bot: RunningBot) -> list[tuple[str, str, int]]:
    with sqlite3.connect(bot.settings.database_path) as conn:
        return conn.execute("SELECT id, state, handled_count FROM deliveries ORDER BY received_at").fetchall()


def install_everything_the_payloads_name(fake: FakeGitHub) -> None:
    """Installations and repositories named by the recorded payloads, so handlers can reach them."""
    seen: dict[int, set[str]] = {}
    for path in all_payload_files():
        data = json.loads(path.read_text())
        installation_id = (data.get("installation") or {}).get("id")
        repo = (data.get("repository") or {}).get("full_name")
        if installation_id is not None:
            seen.setdefault(installation_id, set())
            if repo:
                seen[installation_id].add(repo)
    for installation_id, repos in seen.items():
        fake.add_installation("octo", sorted(repos), installation_id=installation_id)
    add_the_pull_requests_the_payloads_name(fake)


def add_the_pull_requests_the_payloads_name(fake: FakeGitHub) -> None:
    """The open pull requests the `pull_request` payloads describe (the handlers read a PR fresh before
    acting on it), at the head the first payload of each names; the others then arrive as late ones."""
    for path in all_payload_files():
        data = json.loads(path.read_text())
        pr, repo = data.get("pull_request"), (data.get("repository") or {}).get("full_name")
        if path.parent.name != "pull_request" or not isinstance(pr, dict) or not repo or pr.get("state") != "open":
            continue
        if int(pr["number"]) in fake.add_repo(repo).pulls:
            continue
        fake.add_pull(repo, number=int(pr["number"]), head_sha=pr["head"]["sha"], head_ref=pr["head"]["ref"],
                      base_ref=pr["base"]["ref"], user=pr["user"]["login"], draft=bool(pr.get("draft")))


async def test_every_recorded_payload_is_acknowledged_and_handled_without_error(
    fake_github: FakeGitHub, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    install_everything_the_payloads_name(fake_github)
    bot = await start_bot()
    validations: list[dict[str, Any]] = []

    async def record_validation(job: Job) -> None:  # the validation itself is tested elsewhere
        validations.append(job.payload)

    assert bot.server.jobs is not None
    bot.server.jobs.register("validation", record_validation)
    caplog.set_level(logging.INFO)
    files = all_payload_files()
    assert len(files) > 100
    for path in files:
        event = path.parent.name
        status, body = await bot.deliver(event, path.read_bytes())
        assert status == (200 if event == "ping" else 202), (path.name, body)
    await bot.drain()
    rows = stored(bot)
    assert len(rows) == len(files) - len(list(path for path in files if path.parent.name == "ping"))
    assert {state for _, state, _ in rows} == {"handled"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    # the handlers really ran: installations recorded, config checked on PRs, validations queued
    assert await bot.server.services.installations.get(957387) is not None
    assert fake_github.calls("checks/create"), "no check run was created for any pull_request payload"
    assert validations


async def test_signature_and_header_failures_are_refused_and_nothing_is_stored(bot: RunningBot) -> None:
    body = json.dumps(payload("issues/opened")).encode()
    good = headers_for("issues", body, WEBHOOK_SECRET)
    cases: list[tuple[dict[str, str], bytes, int]] = [
        ({k: v for k, v in good.items() if k != "X-Hub-Signature-256"}, body, 401),
        ({**good, "X-Hub-Signature-256": sign(body, "wrong-secret")}, body, 401),
        ({**good, "X-Hub-Signature-256": "sha1=" + "0" * 40}, body, 401),
        ({**good, "X-Hub-Signature-256": sign(body + b" ", WEBHOOK_SECRET)}, body, 401),
        ({k: v for k, v in good.items() if k != "X-GitHub-Event"}, body, 400),
        ({k: v for k, v in good.items() if k != "X-GitHub-Delivery"}, body, 400),
        ({**good, "X-Hub-Signature-256": sign(b"not json", WEBHOOK_SECRET)}, b"not json", 400),
        ({**good, "X-Hub-Signature-256": sign(b"[1, 2]", WEBHOOK_SECRET)}, b"[1, 2]", 400),
    ]
    for headers, data, expected in cases:
        async with bot.session.post(f"{bot.url}/webhook", data=data, headers=headers) as resp:
            assert resp.status == expected, (headers, data[:20])
            assert "error" in await resp.json()
    assert stored(bot) == []
    async with bot.session.get(f"{bot.url}/metrics") as resp:
        text = await resp.text()
    assert 'codegen_bot_deliveries_rejected_total{reason="401"} 4.0' in text
    assert 'codegen_bot_deliveries_rejected_total{reason="400"} 4.0' in text


async def test_oversized_body_is_413_and_not_stored(bot: RunningBot) -> None:
    body = b'{"padding": "' + b"x" * (25 * 1024 * 1024 + 10) + b'"}'
    headers = headers_for("issues", body, WEBHOOK_SECRET)
    async with bot.session.post(f"{bot.url}/webhook", data=body, headers=headers) as resp:
        assert resp.status == 413
    assert stored(bot) == []


async def test_ping_is_200_and_redelivery_is_acknowledged_but_handled_once(
    fake_github: FakeGitHub, bot: RunningBot
) -> None:
    status, _ = await bot.deliver("ping", payload("ping/payload"))
    assert status == 200
    data = payload("installation/created")
    for _ in range(3):
        status, body = await bot.deliver("installation", data, delivery_id="same-id-1")
        assert status == 202
    assert body["status"] == "duplicate"
    await bot.drain()
    assert stored(bot) == [("same-id-1", "handled", 1)]
    async with bot.session.get(f"{bot.url}/metrics") as resp:
        text = await resp.text()
    assert "codegen_bot_deliveries_duplicate_total 2.0" in text
    assert 'codegen_bot_deliveries_handled_total{outcome="handled"} 1.0' in text


async def test_without_a_webhook_secret_every_webhook_is_refused(start_bot: StartBot) -> None:
    bot = await start_bot(github_webhook_secret=None)
    status, _body = await bot.deliver("issues", payload("issues/opened"))
    assert status == 503
    assert stored(bot) == []


async def test_healthz_reports_the_store(bot: RunningBot, monkeypatch: pytest.MonkeyPatch) -> None:
    async with bot.session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"
    assert bot.server.db is not None

    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    real_read = bot.server.db.read
    monkeypatch.setattr(bot.server.db, "read", lambda work: real_read(broken))
    async with bot.session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 503
