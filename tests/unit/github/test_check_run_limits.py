"""Check-run output limits count UTF-8 bytes (issue 13, item 5): cut safely, and the fake refuses more."""

from __future__ import annotations

import aiohttp
import pytest
from gidgethub import BadRequest

from bot.github import check_runs
from bot.github.client import GitHubClients
from tests.fakes.github import FakeGitHub

REPO = "octo-org/app"


def test_fit_cuts_at_a_character_boundary_within_the_byte_limit() -> None:
    text = "é" * 40_000  # 80,000 bytes
    head = check_runs.fit(text)
    tail = check_runs.fit(text, keep="tail")
    for cut in (head, tail):
        assert len(cut.encode("utf-8")) <= check_runs.MAX_TEXT
        assert "\ufffd" not in cut and cut.count("é") > 30_000
    assert head.endswith("(cut to fit GitHub's limit)") and tail.startswith("… (earlier output cut)")
    assert check_runs.fit("é" * 30_000) == "é" * 30_000  # 60,000 bytes: kept whole


async def test_a_multibyte_log_near_the_limit_is_accepted_and_an_uncut_one_refused(fake_github: FakeGitHub) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    pull = fake_github.add_pull(REPO)
    log = "日本語のログ " * 6_000  # 108,000 bytes, 42,000 characters: fewer characters than the limit
    async with aiohttp.ClientSession() as session:
        gh = GitHubClients(session, app_id=fake_github.app_id, private_key=fake_github.private_key_pem,
                           api_url=fake_github.url).installation(inst.id)
        body = {"name": "codegen/test", "head_sha": pull.head_sha, "status": "completed", "conclusion": "failure"}
        output = check_runs.output("Failed", log, log)
        created = await check_runs.create(gh, "octo-org", "app", {**body, "output": output})
        assert created["output"]["title"] == "Failed"
        with fake_github.allow_violations(), pytest.raises(BadRequest) as refused:
            await gh.post("/repos/{owner}/{repo}/check-runs", {"owner": "octo-org", "repo": "app"},
                          data={**body, "output": {"title": "raw", "summary": log}})
        assert refused.value.status_code == 422
