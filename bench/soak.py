"""Soak benchmark (figures, not a test): mixed deliveries for a while, with a SIGKILL of the bot every so often.

`codegen-bot serve` runs as a real process on a SQLite store; the fake GitHub and the fake Codegen run in this
process. Every second or so one delivery is sent: a `/codegen task-N` comment on a new issue (an agent run,
followed to its end), a `pull_request opened` of a new PR whose commit is in a real git repository (a
validation without commands: analysis, then every container stage skipped), or a `check_run completed` of
another app (noise). 5% of accepted deliveries are sent again under the same id (GitHub's redelivery). Every
`--kill-every` seconds the bot is killed with SIGKILL and started again on the same store; a delivery that
failed because the bot was down is sent again after the restart, as GitHub's redelivery would.

At the end, once the bot is quiet, it counts:
- duplicates: Codegen runs beyond one per command, status comments beyond one per command, check runs beyond
  one per (commit, name);
- losses: a command with no Codegen run or no status comment, a PR with no check run of a name;
- stuck: check runs not completed, agent runs not finished, deliveries not handled, jobs overdue.
Goal (issue 14): 0 / 0 / 0.

    .venv/bin/python bench/soak.py [--minutes 30] [--kill-every 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.codegen import FakeCodegen
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import WEBHOOK_SECRET
from tests.support.payloads import check_run_event, issue_comment_event, pull_request_event
from tests.support.serve_process import free_port, serve, wait_healthy
from tests.support.validation_scenario import Project
from tests.support.webhooks import headers_for

REPO = "octo-org/soak"
NAMES = ("codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy", "codegen/web-eval")


@dataclass
class Soak:
    fake: FakeGitHub
    codegen: FakeCodegen
    project: Project
    tmp: Path
    installation_id: int
    port: int
    proc: subprocess.Popen[bytes] | None = None
    commands: list[int] = field(default_factory=list)
    pulls: dict[int, str] = field(default_factory=dict)
    unsent: list[tuple[str, str, bytes]] = field(default_factory=list)
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    kills: int = 0
    seq: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {"CODEGEN_API_URL": self.codegen.url, "CODEGEN_API_TOKEN": self.codegen.token,
                "CODEGEN_ORG_ID": str(self.codegen.org_id), "AGENT_POLL_SECONDS": "0.5",
                "GIT_CACHE_DIR": str(self.tmp / "git-cache"), "RECONCILE_MINUTES": "1"}

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.proc = serve(self.tmp, self.fake, self.port, extra_env=self.env())
        await wait_healthy(session, self.url, within=30)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    async def post(self, session: aiohttp.ClientSession, event: str, delivery_id: str, body: bytes) -> bool:
        try:
            async with session.post(f"{self.url}/webhook", data=body,
                                    headers=headers_for(event, body, WEBHOOK_SECRET, delivery_id)) as resp:
                return resp.status == 202
        except (aiohttp.ClientError, ConnectionError):
            return False

    def next_delivery(self) -> tuple[str, str, bytes]:
        self.seq += 1
        kind = random.choices(["command", "pull", "noise"], weights=[3, 3, 4])[0]
        if kind == "noise" and not self.pulls:
            kind = "pull"
        if kind == "command":
            issue = self.fake.add_issue(REPO, title=f"task {self.seq}")
            self.commands.append(issue.number)
            data = issue_comment_event(self.fake, REPO, issue.number, self.installation_id,
                                       f"/codegen task-{issue.number}", user="dev")
            return "issue_comment", f"soak-{self.seq}", json.dumps(data).encode()
        if kind == "pull":
            sha = self.project.commit({f"src/mod{self.seq}.py": f"VALUE = {self.seq}\n"})
            number = self.fake.add_pull(REPO, head_sha=sha, files=[f"src/mod{self.seq}.py"],
                                        head_ref=f"feature-{self.seq}", user="dev").number
            self.project.pull_head(number, sha)
            self.pulls[number] = sha
            data = pull_request_event(self.fake, REPO, number, self.installation_id, sender="dev")
            data["pull_request"]["base"]["repo"]["clone_url"] = self.project.url
            return "pull_request", f"soak-{self.seq}", json.dumps(data).encode()
        number = random.choice(list(self.pulls))
        run = self.fake.add_check_run(REPO, self.pulls[number], f"ci/job-{self.seq}")
        data = check_run_event(self.fake, REPO, self.installation_id, run, pull_numbers=[number])
        return "check_run", f"soak-{self.seq}", json.dumps(data).encode()


async def drive(soak: Soak, session: aiohttp.ClientSession, seconds: float, kill_every: float) -> None:
    started = last_kill = time.monotonic()
    while time.monotonic() - started < seconds:
        if time.monotonic() - last_kill >= kill_every:
            soak.kill()
            await soak.start(session)
            last_kill = time.monotonic()
            retry, soak.unsent = soak.unsent, []
            for item in retry:
                await send(soak, session, item)
        await send(soak, session, soak.next_delivery())
        if soak.sent and random.random() < 0.05:
            await send(soak, session, random.choice(soak.sent))  # GitHub's redelivery: the same id again
        await asyncio.sleep(random.uniform(0.5, 1.5))


async def send(soak: Soak, session: aiohttp.ClientSession, item: tuple[str, str, bytes]) -> None:
    if await soak.post(session, *item):
        soak.sent.append(item)
    else:
        soak.unsent.append(item)


def db_state(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        return {
            "deliveries not handled": one("SELECT count(*) FROM deliveries WHERE state != 'handled'"),
            "agent runs not finished": one("SELECT count(*) FROM agent_runs WHERE status IN ('queued', 'running')"),
            "jobs overdue": one("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND kind != 'reconcile'"
                                f" AND run_at < {time.time() - 120}"),
        }


def tally(soak: Soak) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    runs: dict[int, int] = {n: 0 for n in soak.commands}
    for run in soak.codegen.runs.values():
        for n in soak.commands:
            if f"task-{n}" in run.prompt.split():
                runs[n] += 1
    status = {n: sum(1 for c in soak.fake.world.comments.values() if c.issue_number == n
                     and "<!-- codegen-bot:run:" in c.body) for n in soak.commands}
    checks: dict[tuple[str, str], int] = {}
    for run in soak.fake.world.check_runs.values():
        if run.name in NAMES:
            checks[(run.head_sha, run.name)] = checks.get((run.head_sha, run.name), 0) + 1
    duplicates = {"codegen runs": sum(max(0, c - 1) for c in runs.values()),
                  "status comments": sum(max(0, c - 1) for c in status.values()),
                  "check runs": sum(max(0, c - 1) for c in checks.values())}
    losses = {"commands without a run": sum(1 for c in runs.values() if c == 0),
              "commands without a status comment": sum(1 for c in status.values() if c == 0),
              "missing check runs": sum(1 for sha in soak.pulls.values() for name in NAMES
                                        if (sha, name) not in checks)}
    stuck = {"check runs not completed": sum(1 for r in soak.fake.world.check_runs.values()
                                             if r.name in NAMES and r.status != "completed")}
    stuck.update(db_state(soak.tmp / "bot.db"))
    return duplicates, losses, stuck


async def quiet(soak: Soak, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _, _, stuck = tally(soak)
        if not any(stuck.values()):
            return
        await asyncio.sleep(2)


async def main(minutes: float, kill_every: float) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        fake, codegen = FakeGitHub(contract_checks=False), FakeCodegen()
        await fake.start()
        await codegen.start()
        inst = fake.add_installation("octo-org", [REPO])
        fake.set_permission(REPO, "dev", "write")
        fake.set_file(REPO, ".github/codegen.yml", "merge: {auto_merge: false}\n")
        project = Project(tmp / "repo" / REPO)
        project.commit({"README.md": "soak\n"})
        fake.repo(REPO).clone_url = project.url
        soak = Soak(fake, codegen, project, tmp, inst.id, free_port())
        async with aiohttp.ClientSession() as session:
            await soak.start(session)
            try:
                await drive(soak, session, minutes * 60, kill_every)
                retry, soak.unsent = soak.unsent, []
                for item in retry:
                    await send(soak, session, item)
                await quiet(soak, within=300)
            finally:
                if soak.proc is not None:
                    soak.proc.kill()
                    soak.proc.wait(10)
        duplicates, losses, stuck = tally(soak)
        await fake.close()
        await codegen.close()
    print(f"soak: {minutes:g} min, SIGKILL every {kill_every:g} s ({soak.kills} kills), {len(soak.sent)} deliveries"
          f" accepted ({len(soak.commands)} commands, {len(soak.pulls)} pull requests)")
    for title, counts in (("duplicates", duplicates), ("losses", losses), ("stuck", stuck)):
        print(f"  {title}: {sum(counts.values())}  " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--kill-every", type=float, default=120.0)
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.kill_every))
