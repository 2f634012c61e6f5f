"""Attack family: making the bot merge what it did not validate (issue 12, items 9 and 10): pure parts.

Check runs are matched by name only on GitHub; another app, or a fork's workflow, can post `codegen/test`.
A merge request or approval given at one head must not carry over to a commit pushed later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from handlers.merge.decide import CheckResult, CheckSources, trusted_checks
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot
from tests.support.eventually import eventually
from tests.support.payloads import check_run_event, issue_comment_event, pull_request_event

OURS, ACTIONS, OTHER = 101, 15368, 999
SOURCES = CheckSources(own_app_id=OURS, apps={"ci/lint": ACTIONS})


def test_a_codegen_check_counts_only_from_this_app() -> None:
    runs = [(1, CheckResult("codegen/test", "success", OTHER))]
    assert trusted_checks(runs, [], SOURCES) == {}
    statuses = [CheckResult("codegen/test", "success")]  # a commit status has no app at all
    assert trusted_checks([], statuses, SOURCES) == {}
    ours = [(2, CheckResult("codegen/test", "failure", OURS)), (3, CheckResult("codegen/test", "success", OTHER))]
    assert trusted_checks(ours, [], SOURCES) == {"codegen/test": CheckResult("codegen/test", "failure", OURS)}


def test_a_spoofed_later_report_cannot_block_or_satisfy_our_check() -> None:
    runs = [(5, CheckResult("codegen/build", "success", OURS)), (9, CheckResult("codegen/build", "failure", OTHER))]
    assert trusted_checks(runs, [], SOURCES)["codegen/build"].conclusion == "success"


def test_a_check_tied_to_an_app_counts_only_from_it() -> None:
    runs = [(1, CheckResult("ci/lint", "success", OTHER))]
    assert trusted_checks(runs, [CheckResult("ci/lint", "success")], SOURCES) == {}
    runs.append((2, CheckResult("ci/lint", "success", ACTIONS)))
    assert trusted_checks(runs, [], SOURCES) == {"ci/lint": CheckResult("ci/lint", "success", ACTIONS)}


def test_a_check_nobody_ties_to_an_app_counts_from_any_source() -> None:
    statuses = [CheckResult("ci/legacy", "success")]
    assert trusted_checks([], statuses, SOURCES) == {"ci/legacy": CheckResult("ci/legacy", "success")}


# --- end to end: the real bot, the fake GitHub ------------------------------------------------------
REPO = "octo-org/app"
StartBot = Callable[..., Awaitable[RunningBot]]


async def validated_pull(fake: FakeGitHub, bot: RunningBot, inst_id: int) -> Any:
    """A PR whose head passed our validation, with our `codegen/test` check run."""
    pull = fake.add_pull(REPO, head_ref="feature")
    await bot.record_passed_validation(REPO, pull, inst_id)
    fake.add_check_run(REPO, pull.head_sha, "codegen/test", app_slug=fake.app_slug)
    return pull


async def settle(bot: RunningBot) -> None:
    await asyncio.sleep(1.5)  # past the merge evaluation's debounce
    await bot.drain()


async def test_another_apps_failing_codegen_check_does_not_block_the_merge(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: true, required_checks: [codegen/test]}\n")
    bot = await start_bot()
    pull = await validated_pull(fake_github, bot, inst.id)
    spoof = fake_github.add_check_run(REPO, pull.head_sha, "codegen/test", conclusion="failure", app_slug="evil-ci")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, spoof, pull_numbers=[pull.number]))
    await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge")
    assert fake_github.calls("pulls/merge")[0].json["sha"] == pull.head_sha


async def test_a_check_tied_to_an_app_is_not_satisfied_by_another(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    bot = await start_bot()
    actions = fake_github.add_check_run(REPO, "0" * 40, "warm-up", app_slug="github-actions").app_id
    fake_github.set_file(REPO, ".github/codegen.yml", "merge:\n  auto_merge: true\n"
                         f"  required_checks: [codegen/test, ci/lint]\n  check_apps: {{ci/lint: {actions}}}\n")
    pull = await validated_pull(fake_github, bot, inst.id)
    spoof = fake_github.add_check_run(REPO, pull.head_sha, "ci/lint", app_slug="evil-ci")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, spoof, pull_numbers=[pull.number]))
    await settle(bot)
    assert fake_github.calls("pulls/merge") == []
    real = fake_github.add_check_run(REPO, pull.head_sha, "ci/lint", app_slug="github-actions")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, real, pull_numbers=[pull.number]))
    await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge")


async def test_a_push_withdraws_a_merge_request_given_at_the_older_head(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {required_checks: [codegen/test, ci/lint]}\n")
    bot = await start_bot()
    pull = await validated_pull(fake_github, bot, inst.id)
    asked = issue_comment_event(fake_github, REPO, pull.number, inst.id, "/codegen merge", user="maintainer")
    await bot.deliver("issue_comment", asked)  # waits for ci/lint
    await bot.drain()
    old_head = pull.head_sha
    pull.head_sha = "c" * 40  # a new push: everything then passes on the new head
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id, "synchronize"))
    await bot.drain()
    await bot.record_passed_validation(REPO, pull, inst.id)
    fake_github.add_check_run(REPO, pull.head_sha, "codegen/test", app_slug=fake_github.app_slug)
    lint = fake_github.add_check_run(REPO, pull.head_sha, "ci/lint")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, lint, pull_numbers=[pull.number]))
    await settle(bot)
    assert fake_github.calls("pulls/merge") == []
    said = [c.body for c in fake_github.world.comments.values() if c.issue_number == pull.number]
    assert any(f"given at `{old_head[:12]}` no longer holds" in body for body in said), said


async def test_a_maintainers_pull_request_from_a_strangers_fork_is_held(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    pull = fake_github.add_pull(REPO, user="maintainer", head_repo="stranger/shop")
    bot = await start_bot()
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id))
    await bot.drain()
    held = [c.json for c in fake_github.calls("checks/create") if c.json["name"] == "codegen/build"]
    assert held and held[0]["conclusion"] == "action_required"
    assert "@stranger does not have write access" in held[0]["output"]["summary"]


async def test_ok_to_test_written_before_a_push_approves_nothing(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    pull = fake_github.add_pull(REPO, user="stranger", head_repo="stranger/shop")
    bot = await start_bot()
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id))
    await bot.drain()
    approval = issue_comment_event(fake_github, REPO, pull.number, inst.id, "/codegen ok-to-test", user="maintainer")
    approval["comment"]["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
    pull.head_sha = "d" * 40  # the stranger pushes after the maintainer wrote the comment
    await bot.deliver("pull_request", pull_request_event(fake_github, REPO, pull.number, inst.id, "synchronize"))
    await bot.drain()
    await bot.deliver("issue_comment", approval)
    await bot.drain()
    assert await bot.server.services.validation.store.approved_by(REPO, pull.head_sha) is None
    said = [c.body for c in fake_github.world.comments.values() if c.issue_number == pull.number]
    assert any("nothing was approved" in body and f"ok-to-test {pull.head_sha[:12]}" in body for body in said)


async def test_the_automerge_label_counts_only_while_its_last_adder_has_write_permission(
    fake_github: FakeGitHub, start_bot: StartBot
) -> None:
    inst = fake_github.add_installation("octo-org", [REPO])
    fake_github.set_permission(REPO, "maintainer", "write")
    fake_github.set_permission(REPO, "visitor", "read")
    fake_github.set_file(REPO, ".github/codegen.yml", "merge: {required_checks: [codegen/test]}\n")
    bot = await start_bot()
    pull = await validated_pull(fake_github, bot, inst.id)
    fake_github.label_issue(REPO, pull.number, "codegen: automerge", actor="maintainer")
    labeled = pull_request_event(fake_github, REPO, pull.number, inst.id, "labeled", sender="maintainer")
    labeled["label"] = {"name": "codegen: automerge"}
    await bot.deliver("pull_request", labeled)
    await bot.drain()
    # the bot misses the visitor taking the label off and putting it back (no webhook reaches it)
    fake_github.label_issue(REPO, pull.number, "codegen: automerge", actor="visitor", remove=True)
    fake_github.label_issue(REPO, pull.number, "codegen: automerge", actor="visitor")
    ours = next(r for r in fake_github.world.check_runs.values() if r.name == "codegen/test")
    await bot.deliver("check_run", check_run_event(fake_github, REPO, inst.id, ours, pull_numbers=[pull.number]))
    await settle(bot)
    assert fake_github.calls("pulls/merge") == []
    fake_github.label_issue(REPO, pull.number, "codegen: automerge", actor="maintainer", remove=True)
    fake_github.label_issue(REPO, pull.number, "codegen: automerge", actor="maintainer")
    labeled["pull_request"]["updated_at"] = "2030-01-01T00:00:00Z"  # a new `labeled` delivery, a new body
    await bot.deliver("pull_request", labeled)
    await eventually(lambda: fake_github.calls("pulls/merge"), within=15, what="the merge")
