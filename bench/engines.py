"""Validations per minute with one and with two Docker engines (`DOCKER_HOSTS`; figures, not a test).

The example app (examples/hello-app, its own .github/codegen.yml: cached setup, build, unittest, deploy +
health check, analysis, web evaluation in the browser container) is committed into a git repository behind
the fake GitHub; N pull requests are opened at once and delivered to the real bot (the whole path: delivery,
check runs, fetch, snapshot on an engine, report). Each configuration gets a fresh bot and store:

    one engine       unix:///var/run/docker.sock?slots=2                            (2 slots)
    two engines      the same + the second engine ?slots=2&remote=true              (4 slots)
    two, same total  both engines ?slots=1                                          (2 slots; --no-same-total)

Throughput = validations concluded / (last validation's `finished_at` − first delivery). Validation wall
time = from the moment it got an engine slot ("runs on Docker engine" in the log) to its `finished_at`;
latency = delivery → concluded (slot wait included). Every validation must pass (5 check runs `success`).
`WEB_EVAL_MAX_CONCURRENT` is set to each configuration's total slots, so the replica's browser cap is not
what is measured.

The second engine is scripts/ensure-second-docker.sh's dockerd (its own network namespace, no way out): it
cannot download the example's dependencies, so a warm-up validation on the first engine writes the
`cache_setup` image and it is copied to the second (`docker save | docker load`); every measured validation
is then warm on either engine. Both engines share this machine's cores: a second engine adds slots, not CPU.

    SNAPSHOT_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt .venv/bin/python bench/engines.py [--prs 12]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import pct
from tests.fakes.github import FakeGitHub
from tests.support.bot_fixtures import bot_settings, launch
from tests.support.validation_scenario import REPO, Project, Scenario
from validators.repo_key import repo_key

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hello-app"
FIRST = "unix:///var/run/docker.sock"
STAGES = ("codegen/build", "codegen/test", "codegen/deploy", "codegen/analysis", "codegen/web-eval")


class EngineLog(logging.Handler):
    """Which engine each validation ran on, and when it got its slot (the runner logs it at INFO)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.slots: dict[str, tuple[str, float]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("validation ") and "runs on Docker engine" in record.getMessage():
            validation_id, engine = record.args  # type: ignore[misc]
            self.slots[str(validation_id)] = (str(engine), record.created)


def second_engine() -> str:
    run = subprocess.run([str(ROOT / "scripts" / "ensure-second-docker.sh")], capture_output=True, text=True)
    if run.returncode != 0 or not run.stdout.strip():
        raise SystemExit(f"no second Docker engine: {run.stderr[-1500:]}")
    return run.stdout.strip().splitlines()[-1]


def example_files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in sorted(EXAMPLE.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def copy_setup_images(repo_id: int, to: str) -> list[str]:
    """The example's `cache_setup` images, from the first engine to `to` (which has no way out to PyPI)."""
    prefix = f"codegen-bot-setup/{repo_key(REPO, repo_id)}:"
    tags = [t for t in subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], check=True,
                                      capture_output=True, text=True).stdout.split() if t.startswith(prefix)]
    for tag in tags:
        subprocess.run(f"docker save {tag} | docker -H {to} load -q", shell=True, check=True, capture_output=True)
    return tags


class Bench:
    def __init__(self, fake: FakeGitHub, project: Project, installation_id: int, tmp: Path) -> None:
        self.fake, self.project, self.installation_id, self.tmp = fake, project, installation_id, tmp
        self.files = example_files()
        self.commits = 0

    def new_pull(self, scenario: Scenario) -> tuple[int, str]:
        self.commits += 1
        text = self.files["app/server.py"] + f"\n# bench change {self.commits}\n"
        sha = self.project.commit({**self.files, "app/server.py": text})
        return scenario.open_pull(sha, ["app/server.py"], user="dev"), sha

    async def run(self, label: str, hosts: str, slots: int, prs: int) -> dict[str, object]:
        work = self.tmp / label.replace(" ", "-").replace(",", "")
        work.mkdir()
        ca = os.environ.get("SNAPSHOT_CA_BUNDLE")
        settings = bot_settings(self.fake, work, log_level="WARNING", docker_hosts=hosts,
                                web_eval_max_concurrent=slots, reconcile_open_prs=False,
                                snapshot_ca_bundle=Path(ca) if ca else None)
        bot = await launch(settings, work / ".env")
        engines = EngineLog()
        runner_log = logging.getLogger("handlers.validation.runner")
        runner_log.setLevel(logging.INFO)
        runner_log.addHandler(engines)
        try:
            await asyncio.sleep(2.0)  # the reconciler's start-up pass is not part of the figure
            scenario = Scenario(self.fake, bot, self.project, self.installation_id)
            pulls = [self.new_pull(scenario) for _ in range(prs)]
            started = time.time()
            await asyncio.gather(*(scenario.deliver_pull(number) for number, _ in pulls))
            runs = await asyncio.gather(*(scenario.wait_done(sha, within=900, drain=False) for _, sha in pulls))
            await bot.drain(60)
            store = bot.server.services.validation.store
            records = [await store.latest_for_sha(REPO, sha) for _, sha in pulls]
        finally:
            runner_log.removeHandler(engines)
            await bot.stop()
        for number, _ in pulls:  # closed: the next configuration's bot finds no open pull request of this one
            self.fake.repo(REPO).pulls[number].state = "closed"
        return self.figures(label, slots, started, pulls, runs, records, engines)

    def figures(self, label: str, slots: int, started: float, pulls: list[tuple[int, str]], runs: list[dict],
                records: list, engines: EngineLog) -> dict[str, object]:
        failed = [(sha[:12], {n: r.conclusion for n, r in run.items() if r.conclusion != "success"})
                  for (_, sha), run in zip(pulls, runs, strict=True)
                  if set(run) != set(STAGES) or any(r.conclusion != "success" for r in run.values())]
        failed += [(r.head_sha[:12], "not passed in the store") for r in records if r is None or not r.passed]
        ended = max(r.finished_at for r in records)
        walls = [r.finished_at - engines.slots[r.id][1] for r in records]
        latency = [r.finished_at - started for r in records]
        per_engine: dict[str, int] = {}
        for r in records:
            name = engines.slots[r.id][0]
            per_engine[name] = per_engine.get(name, 0) + 1
        span = ended - started
        return {"label": label, "slots": slots, "n": len(records), "passed": len(records) - len(failed),
                "failed": failed, "span": span, "per_min": len(records) / span * 60,
                "wall_p50": statistics.median(walls), "wall_p90": pct(walls, 90),
                "latency_p50": statistics.median(latency), "per_engine": per_engine, "load": os.getloadavg()[0]}


def show(f: dict) -> None:  # type: ignore[type-arg]
    engines = ", ".join(f"{'engine 1' if name == FIRST else 'engine 2'} {n}" for name, n in f["per_engine"].items())
    print(f"{f['label']:<34} {f['slots']} slots: {f['passed']}/{f['n']} passed; {f['span']:.1f} s first delivery"
          f" → last concluded = {f['per_min']:.1f} validations/min; validation wall p50 {f['wall_p50']:.1f} s"
          f" (p90 {f['wall_p90']:.1f}); delivery → concluded p50 {f['latency_p50']:.1f} s; on {engines};"
          f" 1-min load {f['load']:.1f} at the end", flush=True)
    if f["failed"]:
        print(f"    FAILED: {f['failed']}", flush=True)


async def main(prs: int, same_total: bool) -> None:
    second = second_engine()
    remote = f"{second}?slots={{n}}&remote=true"
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        fake = FakeGitHub(contract_checks=False)
        await fake.start()
        inst = fake.add_installation("octo-org", [REPO])
        fake.set_permission(REPO, "dev", "write")
        fake.set_file(REPO, ".github/codegen.yml", (EXAMPLE / ".github" / "codegen.yml").read_text())
        bench = Bench(fake, Project.of(tmp / "git"), inst.id, tmp)
        results = []
        try:
            warm = await bench.run("warm-up, engine 1", f"{FIRST}?slots=1", 1, 1)
            tags = copy_setup_images(fake.repo(REPO).id, second)
            print(f"warm-up on engine 1: {warm['passed']}/1 passed; setup image(s) copied to engine 2: {tags}")
            warm2 = await bench.run("warm-up, engine 2", remote.format(n=1), 1, 1)
            print(f"warm-up on engine 2: {warm2['passed']}/1 passed", flush=True)
            configs = [("one engine (slots=2)", f"{FIRST}?slots=2", 2),
                       ("two engines (slots=2 each)", f"{FIRST}?slots=2,{remote.format(n=2)}", 4)]
            if same_total:
                configs.append(("two engines (slots=1 each)", f"{FIRST}?slots=1,{remote.format(n=1)}", 2))
            for label, hosts, slots in configs:
                results.append(await bench.run(label, hosts, slots, prs))
                show(results[-1])
        finally:
            await fake.close()
    if any(f["failed"] for f in results):
        raise SystemExit("some validations did not pass")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=12, help="pull requests opened at once per configuration")
    parser.add_argument("--no-same-total", action="store_true",
                        help="skip the two-engine run with the one-engine run's total slots (1 + 1)")
    args = parser.parse_args()
    asyncio.run(main(args.prs, not args.no_same_total))
