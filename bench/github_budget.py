"""GitHub API budget benchmark (figures, not a test). Needs Docker and the base image (`make docker`).

(a) One pull request's whole life: `pull_request opened` → the validation in a real snapshot (its five
    check runs: build, test, deploy, analysis, web-eval) → the merge (`merge.auto_merge: true`), then the
    merge comment. Counts every request the bot sent to GitHub from the delivery until everything is idle,
    by operation; 304 answers (conditional requests, which GitHub does not count against the rate limit)
    are shown apart. Goal (issue 13): ≤ 20.
(b) 100 `check_run completed` deliveries of another app on the head of a pull request of a repository
    where nobody asked for a merge (`merge.auto_merge: false`, no command, no label), after that repository's
    config was read by its `pull_request opened` (a draft: no validation). Goal: 0 requests.

    .venv/bin/python bench/github_budget.py
The fake GitHub keeps its contract checks here: every request is checked against GitHub's description.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import RunningBot, bot_settings, launch
from tests.support.payloads import check_run_event, pull_request_event
from tests.support.validation_scenario import APP, REPO, TEST, Project, Scenario, config

QUIET = "octo-org/quiet"


def by_operation(requests: list) -> tuple[int, int, str]:  # type: ignore[type-arg]
    counted = [r for r in requests if r.status != 304]
    table = collections.Counter(r.operation_id or r.path for r in counted)
    cached = collections.Counter(r.operation_id or r.path for r in requests if r.status == 304)
    lines = "\n".join(f"      {n:3d}  {op}" + (f" (+{cached[op]} answered 304)" if cached[op] else "")
                      for op, n in table.most_common())
    lines += "".join(f"\n        0  {op} (+{n} answered 304)" for op, n in cached.items() if op not in table)
    return len(counted), len(requests) - len(counted), lines


async def pr_life(fake: FakeGitHub, bot: RunningBot, inst_id: int, tmp: Path) -> None:
    scenario = Scenario(fake, bot, Project.of(tmp), inst_id)
    fake.set_file(REPO, ".github/codegen.yml", config(extra="merge: {auto_merge: true}"))
    sha = scenario.project.commit({"app.py": APP, "test_app.py": TEST})
    number = scenario.open_pull(sha, ["app.py"], user="dev")
    start = len(fake.requests)
    await scenario.deliver_pull(number, sender="dev")
    await scenario.wait_done(sha)
    for _ in range(120):
        if fake.calls("pulls/merge"):
            break
        await asyncio.sleep(0.25)
    else:
        raise RuntimeError("the pull request was not merged within 30 s")
    await asyncio.sleep(1.5)  # past the merge evaluation's debounce, so that every late evaluation counts
    await bot.drain()
    counted, not_modified, lines = by_operation(fake.requests[start:])
    print(f"(a) one PR's life (opened → 5 check runs → merged): {counted} requests"
          f" (+{not_modified} answered 304)\n{lines}")


async def unrelated_checks(fake: FakeGitHub, bot: RunningBot, inst_id: int, events: int) -> None:
    fake.set_file(QUIET, ".github/codegen.yml", "merge: {auto_merge: false}\n")
    pull = fake.add_pull(QUIET, draft=True, user="dev")
    await bot.deliver("pull_request", pull_request_event(fake, QUIET, pull.number, inst_id, sender="dev"))
    await bot.drain()
    start = len(fake.requests)
    for i in range(events):
        run = fake.add_check_run(QUIET, pull.head_sha, f"ci/job-{i}")
        await bot.deliver("check_run", check_run_event(fake, QUIET, inst_id, run, pull_numbers=[pull.number]))
    await asyncio.sleep(1.5)  # past the debounce
    await bot.drain()
    counted, not_modified, lines = by_operation(fake.requests[start:])
    print(f"(b) {events} check_run events of another app, nobody asked for a merge: {counted} requests"
          f" (+{not_modified} answered 304)\n{lines}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        fake = FakeGitHub()
        await fake.start()
        inst = fake.add_installation("octo-org", [REPO, QUIET])
        fake.set_permission(REPO, "dev", "write")
        fake.set_permission(QUIET, "dev", "write")
        bot = await launch(bot_settings(fake, tmp, log_level="WARNING"), tmp / ".env")
        await asyncio.sleep(3.0)  # the reconciler's start-up pass (periodic work, not any PR's) is over
        await bot.drain()
        try:
            await pr_life(fake, bot, inst.id, tmp)
            await unrelated_checks(fake, bot, inst.id, 100)
        finally:
            await bot.stop()
            await fake.close()
        if fake.violations:
            raise SystemExit(f"contract violations: {fake.violations}")


if __name__ == "__main__":
    asyncio.run(main())
