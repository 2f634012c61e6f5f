"""Agent-command benchmark (figures, not a test), on the fakes of tests/ (in this process).

(a) Latency from posting an `issue_comment` delivery with `/codegen <request>` to (1) the 👀 reaction
    request and (2) the Codegen create-run request, as received by the fake GitHub / fake Codegen:
    p50/p99 over N comments (default 200), one comment at a time, each on its own issue.
    Codegen's documented limit of 10 creations per minute is lifted for (a): with it, the 11th comment
    within a minute waits for the window, by design.
(b) The poller's cost: 1,000 agent runs followed at once (each ACTIVE on the fake Codegen for the whole
    measurement); CPU seconds of this process per minute, and polls per minute. The process also runs
    both fakes, so the figure is an upper bound of the bot's own cost.

    .venv/bin/python bench/agent_commands.py [--comments 200] [--runs 1000] [--seconds 60]
The fake GitHub runs without its contract checks here (`contract_checks=False`; the tests keep them):
validating every request against the OpenAPI description costs ~10 ms each in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import pct
from handlers.agent.service import POLL, poll_key
from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import bot_settings, launch
from tests.support.payloads import issue_comment_event

REPO = "octo-org/app"
GET_RUN = "get_agent_run_v1_organizations__org_id__agent_run__agent_run_id__get"


async def latency(comments: int, tmp: Path) -> None:
    github, codegen = FakeGitHub(contract_checks=False), FakeCodegen()
    await github.start()
    await codegen.start()
    inst = github.add_installation("octo-org", [REPO])
    github.set_permission(REPO, "maintainer", "write")
    settings = bot_settings(github, tmp, codegen_api_url=codegen.url, codegen_api_token=codegen.token,
                            codegen_org_id=codegen.org_id, log_level="WARNING", database_url=f"sqlite:///{tmp}/a.db")
    bot = await launch(settings, tmp / ".env")
    # Codegen allows 10 agent creations per minute and the client keeps to it; the fake has no such limit,
    # so for this measurement the client's creation window is lifted (the figure is the bot's own latency).
    assert bot.server.services is not None and bot.server.services.agent.codegen is not None
    bot.server.services.agent.codegen.creates.limit = 1_000_000
    bot.server.services.agent.codegen.requests.limit = 1_000_000
    eyes: list[float] = []
    created: list[float] = []
    try:
        for i in range(comments):
            number = github.add_issue(REPO, title=f"task {i}").number
            marker = f"bench-task-{i}-"
            event = issue_comment_event(github, REPO, number, inst.id, f"/codegen {marker} please", user="maintainer")
            comment_id = event["comment"]["id"]
            started = time.monotonic()
            status, _ = await bot.deliver("issue_comment", event)
            assert status == 202
            deadline = started + 10
            while True:
                reaction = next((r for r in github.requests if r.operation_id == "reactions/create-for-issue-comment"
                                 and r.path.endswith(f"/comments/{comment_id}/reactions")), None)
                create = next((r for r in codegen.requests if isinstance(r.body, dict)
                               and marker in str(r.body.get("prompt", ""))), None)
                if reaction is not None and create is not None:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"comment {i}: within 10 s: reaction {reaction is not None},"
                                       f" run created {create is not None}")
                await asyncio.sleep(0.002)  # >= 1 ms: see bot/intake/pacing.py on uvloop timers
            eyes.append((reaction.at - started) * 1000)
            created.append((create.at - started) * 1000)
    finally:
        await bot.stop()
        await github.close()
        await codegen.close()
    print(f"(a) {comments} comments: delivery → 👀 reaction  p50 {statistics.median(eyes):6.1f} ms"
          f"  p99 {pct(eyes, 99):6.1f} ms")
    print(f"    delivery → Codegen create-run          p50 {statistics.median(created):6.1f} ms"
          f"  p99 {pct(created, 99):6.1f} ms")


async def poller(runs: int, seconds: float, tmp: Path) -> None:
    github, codegen = FakeGitHub(contract_checks=False), FakeCodegen()
    await github.start()
    await codegen.start()
    inst = github.add_installation("octo-org", [REPO])
    number = github.add_issue(REPO).number
    settings = bot_settings(github, tmp, codegen_api_url=codegen.url, codegen_api_token=codegen.token,
                            codegen_org_id=codegen.org_id, log_level="WARNING", database_url=f"sqlite:///{tmp}/p.db")
    bot = await launch(settings, tmp / ".env")
    ctx = bot.server.services
    assert ctx is not None and ctx.agent.codegen is not None
    # lifted while the runs are set up; the documented request window is restored for the measurement
    ctx.agent.codegen.creates.limit = ctx.agent.codegen.requests.limit = 1_000_000
    try:
        for i in range(runs):
            codegen.script(f"run-{i}-", [{"status": "ACTIVE"}])
            remote = await ctx.agent.codegen.create_run(codegen.org_id, f"run-{i}-")
            record = await ctx.agent_runs.create(repo=REPO, number=number, thread_kind="issue",
                                                 installation_id=inst.id, command=f"run {i}", requested_by="m",
                                                 command_comment_id=None)
            await ctx.agent_runs.update(record.id, status="running", codegen_run_id=remote.id,
                                        codegen_org_id=codegen.org_id, codegen_status="PENDING",
                                        status_comment_id=None, progressed=True)
            await bot.server.jobs.enqueue(POLL, {"run_id": record.id, "unchanged": 0}, key=poll_key(record.id),
                                   delay=i * seconds / runs)
        ctx.agent.codegen.requests.limit = 60
        polls_before = len(codegen.calls(GET_RUN))
        cpu_before, wall_before = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu_before
        wall = time.monotonic() - wall_before
        polls = len(codegen.calls(GET_RUN)) - polls_before
    finally:
        await bot.stop()
        await github.close()
        await codegen.close()
    print(f"(b) {runs} runs followed for {wall:.0f} s: {polls / wall * 60:.0f} polls/min,"
          f" {cpu / wall * 60:.2f} CPU s/min (bot + both fakes in this process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comments", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        asyncio.run(latency(args.comments, Path(a)))
        asyncio.run(poller(args.runs, args.seconds, Path(b)))


if __name__ == "__main__":
    main()
