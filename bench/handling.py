"""Handling benchmark (figures, not a test): how fast stored deliveries that need nothing from GitHub are handled
after a burst, on SQLite (one replica) and on PostgreSQL (one and two replicas on one database).

Each configuration starts real `codegen-bot serve` processes (each its own `REPLICA_ID` and port; the GitHub
stand-in is bench/github_stub.py, which nothing here should need), then sends a burst of `--deliveries` signed
`issues/edited` deliveries (GitHub's own payload, which the bot registers no callback for) over 32 connections,
round-robin over the replicas, spread over `--issues` issues (each issue is handled in order, one delivery at a
time, so they are interleaved). Then it polls the store every 0.1 s until every delivery is `handled`.

Printed per configuration: the burst (acknowledged/s), how many were handled during it (handling is paced while
webhooks arrive: WORKER_RATE_UNDER_LOAD), **the drain rate after the burst** (the deliveries still pending when
the burst ended / the time until the last was handled), the whole (all deliveries / burst start to the last
handled), how many each replica handled (PostgreSQL: `claimed_by`), and the replicas' CPU seconds per 1,000
deliveries handled after the burst (their intake processes included). Every delivery must end `handled`
exactly once (else the run exits 1).

    .venv/bin/python bench/handling.py [--deliveries 5000] [--issues 500]
        [--database-url postgresql://USER:PASSWORD@HOST:PORT/] [--configs sqlite,pg1,pg2] [--profile DIR]

Without `--database-url` only SQLite runs. With it, each PostgreSQL configuration gets a new database on that
server (`codegen_bench_<random>`, or the name the URL gives), dropped after it (the role needs CREATEDB).
`--profile DIR` runs each replica under cProfile and leaves `DIR/<config>-<replica>.prof`.
Other settings in the environment (WORKER_CONCURRENCY, INTAKE_PROCESSES, ...) are passed on to the replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingress import ROOT, SECRET, bot_env, free_port, fresh_postgres, private_key, start, stop, wait_http

PAYLOAD = ROOT / "tests" / "fixtures" / "github" / "webhooks" / "issues" / "edited.payload.json"
CONNECTIONS = 32
#: the longest wait for the store to drain
DRAIN_TIMEOUT = 600.0
CONFIGS = {"sqlite": ("sqlite", 1), "pg1": ("postgresql", 1), "pg2": ("postgresql", 2)}


def bodies(count: int, issues: int) -> list[tuple[str, bytes, str]]:
    """(delivery id, body, signature) of `count` deliveries over `issues` issues, issue after issue."""
    data = json.loads(PAYLOAD.read_text())
    data["installation"] = {"id": 1}
    run = os.urandom(4).hex()
    out = []
    for i in range(count):
        data["issue"]["number"] = 1 + i % max(1, issues)
        data["changes"] = {"title": {"from": f"edit {i}"}}  # one body per delivery, as GitHub's are
        body = json.dumps(data).encode()
        out.append((f"{run}-{i}", body, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()))
    return out


async def burst(urls: list[str], work: list[tuple[str, bytes, str]]) -> int:
    """Send every delivery (round-robin over `urls`); the number acknowledged with 2xx."""
    acked = 0
    position = 0

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal acked, position
        while position < len(work):
            i = position
            position += 1
            delivery_id, body, signature = work[i]
            headers = {"Content-Type": "application/json", "X-GitHub-Event": "issues",
                       "X-GitHub-Delivery": delivery_id, "X-Hub-Signature-256": signature}
            async with session.post(f"{urls[i % len(urls)]}/webhook", data=body, headers=headers) as resp:
                await resp.read()
                acked += 200 <= resp.status < 300

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS)) as session:
        await asyncio.gather(*(sender(session) for _ in range(CONNECTIONS)))
    return acked


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(sql).fetchall())
    import psycopg

    with psycopg.connect(database_url) as pg:
        return list(pg.execute(sql).fetchall())  # type: ignore[arg-type]


def handled(database_url: str) -> int:
    return int(query(database_url, "SELECT count(*) FROM deliveries WHERE state = 'handled'")[0][0])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children that are alive (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    wanted = set(pids)
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) in wanted or int(fields[1]) in wanted:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def replica_env(database_url: str, stub_port: int, pem: str, name: str, port: int) -> dict[str, str]:
    return {**bot_env(database_url, stub_port, pem, port), "REPLICA_ID": name}


def start_replicas(args: argparse.Namespace, tmp: Path, config: str, database_url: str, count: int,
                   pem: str, stack: ExitStack) -> tuple[list[str], list[int]]:
    """Start the GitHub stand-in and `count` replicas (stopped when `stack` closes); their URLs and pids."""
    stub_port = free_port()
    stub = start([sys.executable, str(ROOT / "bench" / "github_stub.py"), str(stub_port)], dict(os.environ), tmp,
                 tmp / f"{config}-stub.log")
    stack.callback(stop, stub)
    urls, pids = [], []
    for n in range(count):
        name, port = f"{config}-replica-{n + 1}", free_port()
        command = [sys.executable, "-m", "entrypoints.cli", "serve"]
        if args.profile:
            command[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve() / f"{name}.prof")]
        env = replica_env(database_url, stub_port, pem, name, port)
        env["PYTHONPATH"] = str(ROOT)
        proc = start(command, env, tmp, tmp / f"{name}.log")
        stack.callback(stop, proc)
        urls.append(f"http://127.0.0.1:{port}")
        pids.append(proc.pid)
    wait_http(f"http://127.0.0.1:{stub_port}/", ok=(404,))
    for url in urls:
        wait_http(f"{url}/healthz", ok=(200,), timeout=60)
    return urls, pids


def measure(urls: list[str], pids: list[int], database_url: str, work: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    """Burst, then poll the store until every delivery is handled."""
    total = len(work)
    started = time.monotonic()
    acked = asyncio.run(burst(urls, work))
    burst_end = time.monotonic()
    at_burst_end = handled(database_url)
    cpu_before = cpu_seconds(pids)
    done = at_burst_end
    while done < acked and time.monotonic() - burst_end < DRAIN_TIMEOUT:
        time.sleep(0.1)
        done = handled(database_url)
    finished = time.monotonic()
    cpu = cpu_seconds(pids) - cpu_before
    after = total - at_burst_end
    return {
        "deliveries": total,
        "acknowledged": acked,
        "burst_s": round(burst_end - started, 2),
        "burst_per_s": round(acked / (burst_end - started)),
        "handled_during_burst": at_burst_end,
        "handled": done,
        "drain_s": round(finished - burst_end, 2),
        "drain_per_s": round(after / (finished - burst_end)) if after else None,
        "overall_per_s": round(done / (finished - started)),
        "cpu_s_per_1000_after_burst": round(1000 * cpu / after, 2) if after else None,
    }


def check(database_url: str, result: dict[str, Any], shared: bool) -> None:
    """Every delivery handled once, nothing failed or retried; who handled how many (PostgreSQL)."""
    states = dict(query(database_url, "SELECT state, count(*) FROM deliveries GROUP BY state"))
    twice, retried = query(database_url, "SELECT count(*) FILTER (WHERE handled_count <> 1),"
                                         " count(*) FILTER (WHERE attempts > 1) FROM deliveries")[0]
    result["states"] = states
    result["handled_count_not_1"], result["attempts_over_1"] = int(twice), int(retried)
    if shared:
        result["per_replica"] = dict(query(database_url, "SELECT claimed_by, count(*) FROM deliveries"
                                                         " GROUP BY claimed_by ORDER BY claimed_by"))
    result["ok"] = (states == {"handled": result["deliveries"]} and not twice
                    and result["acknowledged"] == result["deliveries"])


def run_config(args: argparse.Namespace, tmp: Path, config: str, pem: str) -> dict[str, Any]:
    backend, count = CONFIGS[config]
    work = bodies(args.deliveries, args.issues)
    with ExitStack() as stack:
        if backend == "sqlite":
            database_url = f"sqlite:///{tmp / f'{config}.db'}"
        else:
            database_url = stack.enter_context(fresh_postgres(args.database_url))
        with ExitStack() as servers:  # the replicas stop before their database is dropped
            urls, pids = start_replicas(args, tmp, config, database_url, count, pem, servers)
            load = os.getloadavg()
            result = measure(urls, pids, database_url, work)
            result["load_before"] = [round(x, 2) for x in load]
            result["load_after"] = [round(x, 2) for x in os.getloadavg()]
            check(database_url, result, backend == "postgresql")
    return result


def report(config: str, r: dict[str, Any]) -> None:
    backend, count = CONFIGS[config]
    print(f"{backend}, {count} replica(s): {r['deliveries']} deliveries, burst {r['burst_s']} s"
          f" ({r['burst_per_s']}/s acknowledged, {r['handled_during_burst']} handled during it);"
          f" after the burst {r['drain_per_s']}/s ({r['drain_s']} s); overall {r['overall_per_s']}/s;"
          f" {r['cpu_s_per_1000_after_burst']} CPU s per 1,000 after the burst;"
          f" {'all handled once' if r['ok'] else 'NOT ALL HANDLED ONCE'}"
          + (f"; per replica {r['per_replica']}" if "per_replica" in r else "")
          + f"; load {r['load_before']} → {r['load_after']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--issues", type=int, default=500, help="issues the deliveries are spread over")
    parser.add_argument("--database-url", help="a PostgreSQL server (a new database per configuration)")
    parser.add_argument("--configs", help="comma-separated, of sqlite, pg1, pg2 (default: all that can run)")
    parser.add_argument("--profile", help="run each replica under cProfile, its stats in this directory")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the replicas and drop the databases
    configs = args.configs.split(",") if args.configs else ["sqlite", *(["pg1", "pg2"] if args.database_url else [])]
    if any(CONFIGS[c][0] == "postgresql" for c in configs) and not args.database_url:
        sys.exit("PostgreSQL configurations need --database-url")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    pem = private_key()
    results = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        for config in configs:
            results[config] = run_config(args, Path(tmp_name), config, pem)
            report(config, results[config])
    print(json.dumps(results, indent=1))
    if not all(r["ok"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
