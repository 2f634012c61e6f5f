"""Merge latency benchmark (figure, not a test), on the fake GitHub of tests/ (in this process).

For N pull requests (default 100) whose head commit was validated (a passed validation in the store) and
whose last required check (`ci/test`, required by `merge.required_checks`) then completes: the time from
posting that `check_run` `completed` delivery to the `PUT /pulls/{n}/merge` request on the fake GitHub.
Includes the per-PR debounce (1 s) that lets a burst of check events cost one evaluation.
PRs are handled in waves of 10 at a time.

    .venv/bin/python bench/merge.py [--prs 100]
The fake GitHub runs without its contract checks here (`contract_checks=False`; the tests keep them):
validating every request against the OpenAPI description costs ~10 ms each in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import pct
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import bot_settings, launch
from tests.support.payloads import repository
from tests.support.webhooks import payload

REPO = "octo-org/fast"
CONFIG = "merge: {auto_merge: true, required_checks: [ci/test]}\n"


async def run(prs: int, tmp: Path) -> None:
    fake = FakeGitHub(contract_checks=False)
    await fake.start()
    inst = fake.add_installation("octo-org", [REPO])
    fake.set_file(REPO, ".github/codegen.yml", CONFIG)
    bot = await launch(bot_settings(fake, tmp, log_level="WARNING", database_url=f"sqlite:///{tmp}/m.db"),
                       tmp / ".env")
    store = bot.server.services.validation.store
    samples: list[float] = []

    async def one(i: int) -> None:
        pull = fake.add_pull(REPO, head_ref=f"branch-{i}")
        record = await store.create(repo=REPO, pr_number=pull.number, head_sha=pull.head_sha, head_ref=pull.head_ref,
                                    clone_url=None, installation_id=inst.id, state="done", trigger="bench")
        await store.update(record.id, passed=True, finished_at=time.time())
        run = fake.add_check_run(REPO, pull.head_sha, "ci/test")
        event = copy.deepcopy(payload("check_run/completed"))
        repository(event, REPO)
        event["installation"] = {"id": inst.id}
        event["repository"]["id"] = fake.repo(REPO).id
        event["check_run"].update(id=run.id, name="ci/test", head_sha=pull.head_sha, status="completed",
                                  conclusion="success")
        event["check_run"]["pull_requests"] = [{"number": pull.number, "base": {"repo": {"id": fake.repo(REPO).id}}}]
        started = time.monotonic()
        await bot.deliver("check_run", event)
        while True:
            hit = next((r for r in fake.requests if r.operation_id == "pulls/merge"
                        and r.path_params.get("pull_number") == str(pull.number)), None)
            if hit is not None:
                samples.append(hit.at - started)
                return
            if time.monotonic() - started > 30:
                raise RuntimeError(f"PR {pull.number} was not merged within 30 s")
            await asyncio.sleep(0.005)

    try:
        for wave in range(0, prs, 10):
            await asyncio.gather(*(one(i) for i in range(wave, min(prs, wave + 10))))
    finally:
        await bot.stop()
        await fake.close()
    print(f"{prs} PRs: last required check completed → merge request: p50 {statistics.median(samples):.2f} s,"
          f" p99 {pct(samples, 99):.2f} s (debounce 1 s included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.prs, Path(tmp)))


if __name__ == "__main__":
    main()
