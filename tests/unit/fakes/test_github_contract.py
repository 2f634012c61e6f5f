"""The fake GitHub refuses what GitHub's description forbids, records every contract violation, and the
fixture fails a test that caused one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.unit.fakes.support import REPO, Setup

ROOT = Path(__file__).resolve().parents[3]


async def test_invented_endpoint_is_404_and_recorded(gh: Setup) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.get(f"/repos/{REPO}/wiki/pages")
    assert response.status_code == 404
    assert [v.kind for v in caught] == ["operation"]
    assert gh.fake.violations == []  # allowed: diverted to `caught`


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "codegen", "head_sha": "a" * 40, "colour": "red"}, "colour"),
        ({"name": "codegen", "head_sha": "a" * 40, "conclusion": "great"}, "great"),
        ({"name": "codegen"}, "head_sha"),
    ],
)
async def test_bad_request_bodies_are_422_recorded_and_have_no_effect(
    gh: Setup, body: dict[str, Any], needle: str
) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.post(f"/repos/{REPO}/check-runs", json=body)
    assert response.status_code == 422
    assert len(caught) == 1
    assert caught[0].kind == "body"
    assert needle in str(caught[0])
    assert gh.fake.world.check_runs == {}


async def test_wrong_enum_on_update_leaves_the_run_untouched(gh: Setup) -> None:
    created = await gh.client.post(f"/repos/{REPO}/check-runs", json={"name": "c", "head_sha": "b" * 40})
    run_id = created.json()["id"]
    with gh.fake.allow_violations() as caught:
        response = await gh.client.patch(f"/repos/{REPO}/check-runs/{run_id}", json={"conclusion": "great"})
    assert response.status_code == 422
    assert "great" in str(caught[0])
    assert gh.fake.world.check_runs[run_id].conclusion is None


async def test_undocumented_query_parameter_is_a_violation(gh: Setup) -> None:
    with gh.fake.allow_violations() as caught:
        response = await gh.client.get(f"/repos/{REPO}/pulls", params={"author": "alice"})
    assert response.status_code == 422
    assert "author" in str(caught[0])


async def test_violations_outside_allow_are_kept_for_the_fixture() -> None:
    async with FakeGitHub() as fake, httpx.AsyncClient(base_url=fake.url) as client:
        await client.get("/nowhere")
    assert len(fake.violations) == 1
    assert fake.violations[0].path == "/nowhere"


def test_the_fixture_fails_a_test_that_caused_a_violation(tmp_path: Path) -> None:
    """Run pytest on a throwaway test that sends an invented field: the run must fail at teardown."""
    test_file = tmp_path / "test_sloppy_bot.py"
    test_file.write_text(
        textwrap.dedent(
            """
            import httpx

            async def test_sloppy(fake_github):
                inst = fake_github.add_installation("o", ["o/r"])
                token = fake_github.issue_token(inst.id)
                async with httpx.AsyncClient(base_url=fake_github.url) as client:
                    await client.post(
                        "/repos/o/r/check-runs",
                        headers={"Authorization": f"token {token}"},
                        json={"name": "x", "head_sha": "a" * 40, "colour": "red"},
                    )
            """
        )
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.fakes.github_fixtures",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            "-p",
            "no:cacheprovider",
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "contract violation" in output
    assert "colour" in output
