"""Soak benchmark (figures, not a test): mixed deliveries for a while, with a SIGKILL of the bot every so often.

`codegen-bot serve` runs as a real process on a SQLite store; the fake GitHub and the fake Codegen run in this
process. The deliveries are spread over `--installations` repositories, each in its own installation (8 by
default), as an App installed by several organisations sees them: GitHub gives each installation 5,000
requests an hour, and one installation at a delivery a second would spend that within a quarter of an hour,
after which the bot rightly slows its writes down and waits for the budget (bot/github/rate.py) — a backlog
that says nothing about crashes. The budget each installation used is printed. Likewise commands stay
under Codegen's documented 10 run creations a minute (the bot's client waits for room, so faster commands
only queue up). Every second or so one delivery is sent: a `/codegen task-N` comment on a new issue (an agent run,
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

    .venv/bin/python bench/soak.py [--minutes 30] [--kill-every 120] [--keep DIR]

`--keep DIR` runs in DIR and leaves it behind (the bot's store `bot.db` and its logs `serve-*.log`), and the
threads with a duplicate are listed, to find out why.
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


@dataclass
class Tenant:
    """One installation's repository: its real git repository and its installation id."""

    repo: str
    installation_id: int
    project: Project
NAMES = ("codegen/analysis", "codegen/build", "codegen/test", "codegen/deploy", "codegen/web-eval")


@dataclass
class Soak:
    fake: FakeGitHub
    codegen: FakeCodegen
    tenants: list[Tenant]
    tmp: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    #: (repo, issue number) of each command
    commands: list[tuple[str, int]] = field(default_factory=list)
    #: (repo, pull number) → head sha
    pulls: dict[tuple[str, int], str] = field(default_factory=dict)
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
        tenant = self.tenants[self.seq % len(self.tenants)]
        # commands stay under Codegen's 10 run creations a minute (one token): about 6 a minute
        kind = random.choices(["command", "pull", "noise"], weights=[1, 3, 6])[0]
        ours = [key for key in self.pulls if key[0] == tenant.repo]
        if kind == "noise" and not ours:
            kind = "pull"
        if kind == "command":
            return self._command(tenant)
        if kind == "pull":
            return self._pull(tenant)
        key = random.choice(ours)
        run = self.fake.add_check_run(tenant.repo, self.pulls[key], f"ci/job-{self.seq}")
        data = check_run_event(self.fake, tenant.repo, tenant.installation_id, run, pull_numbers=[key[1]])
        return "check_run", f"soak-{self.seq}", json.dumps(data).encode()

    def _command(self, tenant: Tenant) -> tuple[str, str, bytes]:
        issue = self.fake.add_issue(tenant.repo, title=f"task {self.seq}")
        self.commands.append((tenant.repo, issue.number))
        data = issue_comment_event(self.fake, tenant.repo, issue.number, tenant.installation_id,
                                   f"/codegen task-{self.seq}", user="dev")
        return "issue_comment", f"soak-{self.seq}", json.dumps(data).encode()

    def _pull(self, tenant: Tenant) -> tuple[str, str, bytes]:
        sha = tenant.project.commit({f"src/mod{self.seq}.py": f"VALUE = {self.seq}\n"})
        number = self.fake.add_pull(tenant.repo, head_sha=sha, files=[f"src/mod{self.seq}.py"],
                                    head_ref=f"feature-{self.seq}", user="dev").number
        tenant.project.pull_head(number, sha)
        self.pulls[(tenant.repo, number)] = sha
        data = pull_request_event(self.fake, tenant.repo, number, tenant.installation_id, sender="dev")
        data["pull_request"]["base"]["repo"]["clone_url"] = tenant.project.url
        return "pull_request", f"soak-{self.seq}", json.dumps(data).encode()


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
    runs: dict[tuple[str, int], int] = {key: 0 for key in soak.commands}
    tasks = {f"task-{c.body.split('task-', 1)[1].split()[0]}": (c.repo, c.issue_number)
             for c in soak.fake.world.comments.values() if c.body.startswith("/codegen task-")}
    for run in soak.codegen.runs.values():
        for word in run.prompt.split():
            if word in tasks and tasks[word] in runs:
                runs[tasks[word]] += 1
    status = {key: len(status_comments(soak, key)) for key in soak.commands}
    checks: dict[tuple[str, str, str], int] = {}
    for run in soak.fake.world.check_runs.values():
        if run.name in NAMES:
            key = (run.repo, run.head_sha, run.name)
            checks[key] = checks.get(key, 0) + 1
    duplicates = {"codegen runs": sum(max(0, c - 1) for c in runs.values()),
                  "status comments": sum(max(0, c - 1) for c in status.values()),
                  "check runs": sum(max(0, c - 1) for c in checks.values())}
    losses = {"commands without a run": sum(1 for c in runs.values() if c == 0),
              "commands without a status comment": sum(1 for c in status.values() if c == 0),
              "missing check runs": sum(1 for (repo, _), sha in soak.pulls.items() for name in NAMES
                                        if (repo, sha, name) not in checks)}
    stuck = {"check runs not completed": sum(1 for r in soak.fake.world.check_runs.values()
                                             if r.name in NAMES and r.status != "completed")}
    stuck.update(db_state(soak.tmp / "bot.db"))
    return duplicates, losses, stuck


def status_comments(soak: Soak, key: tuple[str, int]) -> list[str]:
    repo, number = key
    return [c.body.split("-->", 1)[0] for c in soak.fake.world.comments.values()
            if c.repo == repo and c.issue_number == number and "<!-- codegen-bot:run:" in c.body]


async def quiet(soak: Soak, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _, _, stuck = tally(soak)
        if not any(stuck.values()):
            return
        await asyncio.sleep(2)


def duplicated_threads(soak: Soak) -> list[str]:
    """Each command thread with more than one status comment, with the markers of its comments."""
    return [f"{repo}#{n}: {marks}" for repo, n in soak.commands
            if len(marks := status_comments(soak, (repo, n))) > 1]


def budgets(fake: FakeGitHub, tenants: list[Tenant]) -> str:
    """The most of its hourly budget (5,000) any installation used."""
    used = [5000 - fake.rate_remaining(t.installation_id) for t in tenants]
    return f"most of one installation's hourly budget used: {max(used)} of 5000 requests"


async def main(minutes: float, kill_every: float, keep: Path | None, installations: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name) if keep is None else keep
        tmp.mkdir(parents=True, exist_ok=True)
        fake, codegen = FakeGitHub(contract_checks=False), FakeCodegen()
        await fake.start()
        await codegen.start()
        tenants = []
        for i in range(installations):
            repo = f"soak-org-{i}/app"
            inst = fake.add_installation(f"soak-org-{i}", [repo])
            fake.set_permission(repo, "dev", "write")
            fake.set_file(repo, ".github/codegen.yml", "merge: {auto_merge: false}\n")
            project = Project(tmp / "repo" / repo)
            project.commit({"README.md": "soak\n"})
            fake.repo(repo).clone_url = project.url
            tenants.append(Tenant(repo, inst.id, project))
        soak = Soak(fake, codegen, tenants, tmp, free_port())
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
        threads = duplicated_threads(soak)
        spent = budgets(fake, soak.tenants)
        await fake.close()
        await codegen.close()
    print(f"soak: {minutes:g} min, SIGKILL every {kill_every:g} s ({soak.kills} kills), {len(soak.sent)} deliveries"
          f" accepted ({len(soak.commands)} commands, {len(soak.pulls)} pull requests)")
    for title, counts in (("duplicates", duplicates), ("losses", losses), ("stuck", stuck)):
        print(f"  {title}: {sum(counts.values())}  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"  {spent}")
    for line in threads:
        print(f"  duplicated: {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--kill-every", type=float, default=120.0)
    parser.add_argument("--keep", type=Path, default=None, help="run in this directory and leave it behind")
    parser.add_argument("--installations", type=int, default=8, help="repositories, each its own installation")
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.kill_every, args.keep, args.installations))
