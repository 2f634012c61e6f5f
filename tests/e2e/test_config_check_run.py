"""The `codegen/config` check run on the fake GitHub: base-branch config, errors with lines, PR's own config."""

from __future__ import annotations

from tests.fakes.github import FakeGitHub
from tests.fakes.github_state import pull_files
from tests.support.bot_fixtures import RunningBot
from tests.support.payloads import pull_request_event

REPO = "octo-org/app"
INVALID = """\
agent:
  min_permission: everyone
snapshot:
  timeout_minutes: -5
  resources: {cpus: 2, memory: lots}
"""
VALID = """\
snapshot:
  image: python:3.12-slim
  test: ["python -c 'print(1)'"]
"""


def setup_repo(fake: FakeGitHub, config: str | None) -> tuple[int, int]:
    inst = fake.add_installation("octo-org", [REPO])
    if config is not None:
        fake.set_file(REPO, ".github/codegen.yml", config, ref="main")
    pull = fake.add_pull(REPO, head_ref="feature")
    return inst.id, pull.number


def config_runs(fake: FakeGitHub) -> list[dict[str, object]]:
    return [c.json for c in fake.calls("checks/create") if c.json["name"] == "codegen/config"]


async def test_invalid_base_config_fails_the_check_with_every_error_and_line(
    fake_github: FakeGitHub, bot: RunningBot
) -> None:
    installation_id, number = setup_repo(fake_github, INVALID)
    status, _ = await bot.deliver("pull_request", pull_request_event(fake_github, REPO, number, installation_id))
    assert status == 202
    await bot.drain()
    (run,) = config_runs(fake_github)
    assert run["conclusion"] == "failure"
    summary = run["output"]["summary"]  # type: ignore[index]
    assert "`agent.min_permission`" in summary and "line 2" in summary
    assert "`snapshot.timeout_minutes`" in summary and "line 4" in summary
    assert "`snapshot.resources.memory`" in summary and "line 5" in summary
    # nothing else runs on an invalid config
    names = {c.json["name"] for c in fake_github.calls("checks/create")}
    assert names == {"codegen/config"}


async def test_valid_config_passes_and_names_its_source(fake_github: FakeGitHub, bot: RunningBot) -> None:
    installation_id, number = setup_repo(fake_github, VALID)
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, number, installation_id))
    await bot.drain()
    (run,) = config_runs(fake_github)
    assert run["conclusion"] == "success"
    assert ".github/codegen.yml" in run["output"]["summary"]  # type: ignore[index]
    # the config was read at the base branch, never at the PR head
    refs = [c.query.get("ref") for c in fake_github.calls("repos/get-content")]
    assert "main" in refs


async def test_no_config_file_means_defaults(fake_github: FakeGitHub, bot: RunningBot) -> None:
    installation_id, number = setup_repo(fake_github, None)
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, number, installation_id))
    await bot.drain()
    (run,) = config_runs(fake_github)
    assert run["conclusion"] == "success"
    assert "defaults" in run["output"]["summary"]  # type: ignore[index]


async def test_a_pr_that_breaks_the_config_fails_the_check(fake_github: FakeGitHub, bot: RunningBot) -> None:
    installation_id, number = setup_repo(fake_github, VALID)
    pull = fake_github.repo(REPO).pulls[number]
    fake_github.set_file(REPO, ".github/codegen.yml", INVALID, ref=pull.head_sha)
    pull.files = pull_files(["app.py", ".github/codegen.yml"])  # the PR's files list it, as GitHub's do
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, number, installation_id))
    await bot.drain()
    (run,) = config_runs(fake_github)
    assert run["conclusion"] == "failure"
    assert "This pull request's" in run["output"]["summary"]  # type: ignore[index]


async def test_a_pr_that_does_not_touch_the_config_is_judged_on_the_base_config_alone(
    fake_github: FakeGitHub, bot: RunningBot
) -> None:
    """Its files do not list the config, so the head's copy is not read (one request less): merged, the
    base's config stays in force."""
    installation_id, number = setup_repo(fake_github, VALID)
    pull = fake_github.repo(REPO).pulls[number]
    pull.files = pull_files(["app.py"])
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, number, installation_id))
    await bot.drain()
    (run,) = config_runs(fake_github)
    assert run["conclusion"] == "success"
    refs = [c.query.get("ref") for c in fake_github.calls("repos/get-content")]
    assert pull.head_sha not in refs


async def test_the_same_head_handled_again_keeps_one_config_check_run(fake_github: FakeGitHub, bot: RunningBot) -> None:
    installation_id, number = setup_repo(fake_github, VALID)
    event = pull_request_event(fake_github, REPO, number, installation_id)
    await bot.deliver("pull_request", event, delivery_id="config-first")
    await bot.drain()
    event["action"] = "reopened"  # another event for the same head (or the first one again after a crash)
    await bot.deliver("pull_request", event, delivery_id="config-again")
    await bot.drain()
    sha = event["pull_request"]["head"]["sha"]
    on_head = [r for r in fake_github.world.check_runs.values() if r.name == "codegen/config" and r.head_sha == sha]
    assert len(on_head) == 1 and on_head[0].conclusion == "success"
    assert len(config_runs(fake_github)) == 1
    assert any(c.json.get("external_id") == f"config:{sha}" for c in fake_github.calls("checks/update"))
