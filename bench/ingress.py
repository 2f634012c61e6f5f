"""Ingress benchmark: signed `pull_request/opened` deliveries (the real ~28 KB payload, a unique delivery id
each) on 32 connections for 10 s against `codegen-bot serve`, with wrk. Prints deliveries/s, p50/p99 latency
and non-2xx count, then checks that every acknowledged delivery is in the store.

Side by side in the same run (same load, same machine):
  - `gidgethub`: a bare gidgethub + aiohttp app, verify + dispatch to a no-op, nothing persisted;
  - `probot` (with --probot): Probot 14 on Node, verify + dispatch to a no-op, nothing persisted
    (installed with npm into bench/probot/node_modules on first use).

    python bench/ingress.py [--duration 10] [--connections 32] [--probot] [--no-baseline] [--no-drain] [--prs 1]
                            [--database-url postgresql://USER:PASSWORD@HOST:PORT/NEW_DATABASE]

`--prs N` sends the payload as N pull requests of one repository in turn (default 1: every delivery is about
the same pull request, so all of them wait on one another's handling, in order).

`INTAKE_PROCESSES=N` in the environment is passed on to the bot (the README's figure uses 2).

The bot's store is a SQLite file in a temporary directory, or with `--database-url` PostgreSQL: the database the
URL names is created for the run (it must not exist yet; without a name, `codegen_bench_<random>`) and dropped
after it, so the role needs CREATEDB. Either way the bench counts the stored deliveries in the store itself and
says whether every acknowledged delivery (wrk's completed requests minus its non-2xx) is there.

The bot runs its real handlers during the load (the config check creates a check run per delivery) against
bench/github_stub.py, so the figure includes the worker competing for the same two cores.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = ROOT / "tests" / "fixtures" / "github" / "webhooks" / "pull_request" / "opened.payload.json"
SECRET = "bench-secret-0123456789"

LUA = """
local bodies = {}
local signatures = {%(signatures)s}
local counter = 0
local prefix = nil
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
function init(args)
  for i, name in ipairs({%(bodies)s}) do
    local f = io.open(name, "rb")
    bodies[i] = f:read("*a")
    f:close()
  end
  prefix = "%(run)s-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-GitHub-Event"] = "pull_request"
  headers["X-GitHub-Delivery"] = prefix .. counter
  local i = 1 + counter %% #bodies
  headers["X-Hub-Signature-256"] = signatures[i]
  return wrk.format("POST", "%(path)s", headers, bodies[i])
end
"""


def private_key() -> str:
    """A new RSA key, PEM: the App's key (nothing checks it: the GitHub stand-ins take any token)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, ok=(200, 404, 405)) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def pr_bodies(prs: int, tmp: Path) -> list[Path]:
    """The payload as `prs` pull requests (numbers 1..prs) of one repository, a file each."""
    if prs <= 1:
        return [PAYLOAD]
    data = json.loads(PAYLOAD.read_text())
    files = []
    for number in range(1, prs + 1):
        data["number"] = data["pull_request"]["number"] = number
        files.append(tmp / f"opened-{number}.json")
        files[-1].write_text(json.dumps(data))
    return files


def run_wrk(url: str, path: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    """`args.duration` s of wrk on `args.connections` connections, the payload as `args.prs` pull requests."""
    body_files = pr_bodies(args.prs, tmp)
    signatures = [
        "sha256=" + hmac.new(SECRET.encode(), body.read_bytes(), hashlib.sha256).hexdigest() for body in body_files
    ]
    script = tmp / f"load-{path.strip('/').replace('/', '_')}.lua"
    script.write_text(LUA % {
        "bodies": ", ".join(f'"{body}"' for body in body_files),
        "signatures": ", ".join(f'"{signature}"' for signature in signatures),
        "path": path,
        "run": os.urandom(4).hex(),
    })
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s", str(script), url + path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "requests": total,
        "non2xx": non2xx,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "socket_errors": errors.group(1) if errors else "none",
    }


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def fresh_postgres(url: str) -> Iterator[str]:
    """A new database on the server `url` names (the name it gives, else a random one), dropped afterwards."""
    import psycopg  # only when PostgreSQL is benchmarked

    parts = urlsplit(url)
    name = parts.path.strip("/") or f"codegen_bench_{os.urandom(4).hex()}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        sys.exit(f"--database-url: database name {name!r} must be lowercase letters, digits and _")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            sys.exit(f"--database-url: database {name} exists already; name a new one (it is dropped after)")
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def store_counts(database_url: str) -> tuple[int, int]:
    """(stored, pending) deliveries in the bot's store."""
    query = "SELECT count(*), count(*) FILTER (WHERE state = 'pending') FROM deliveries"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            stored, pending = conn.execute(query).fetchone()
    else:
        import psycopg

        with psycopg.connect(database_url) as pg:
            stored, pending = pg.execute(query).fetchone()  # type: ignore[misc]
    return int(stored), int(pending)


def drain(database_url: str, wait: bool) -> tuple[int, int, float]:
    """(stored, pending, seconds) once nothing is pending (at most 300 s), or at once without `wait`."""
    started = time.monotonic()
    while True:
        stored, pending = store_counts(database_url)
        if not wait or pending == 0 or time.monotonic() - started > 300:
            return stored, pending, time.monotonic() - started
        time.sleep(0.5)


def bot_env(database_url: str, stub_port: int, pem: str, port: int) -> dict[str, str]:
    """`codegen-bot serve`'s environment against the GitHub stub on `stub_port` (also bench/handling.py)."""
    return {
        **os.environ,
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": f"http://127.0.0.1:{stub_port}",
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }


def bench_bot(args: argparse.Namespace, tmp: Path, pem: str, database_url: str) -> dict[str, float]:
    stub_port, port = free_port(), free_port()
    stub = start(
        [sys.executable, str(ROOT / "bench" / "github_stub.py"), str(stub_port)],
        dict(os.environ),
        tmp,
        tmp / "stub.log",
    )
    env = {
        **bot_env(database_url, stub_port, pem, port),
        # wrk sends one signed body under many delivery ids: with the replay check on, all but the first
        # would be refused as replays, so the bench measures distinct deliveries with it off
        "WEBHOOK_REPLAY_CHECK": "false",
    }
    bot = start([str(Path(sys.executable).parent / "codegen-bot"), "serve"], env, tmp, tmp / "bot.log")
    try:
        wait_http(f"http://127.0.0.1:{stub_port}/", ok=(404,))
        wait_http(f"http://127.0.0.1:{port}/healthz", ok=(200,))
        result = run_wrk(f"http://127.0.0.1:{port}", "/webhook", args, tmp)
        stored, pending, drained = drain(database_url, not args.no_drain)
        result["stored"] = stored
        result["acknowledged"] = result["requests"] - result["non2xx"]
        result["drain_s"] = drained
        result["pending_after_drain"] = pending
        return result
    finally:
        stop(bot)
        stop(stub)


def bench_gidgethub(args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "GITHUB_WEBHOOK_SECRET": SECRET}
    proc = start([sys.executable, str(ROOT / "bench" / "baseline_gidgethub.py"), str(port)], env, tmp, tmp / "gh.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/webhook", ok=(405,))
        return run_wrk(f"http://127.0.0.1:{port}", "/webhook", args, tmp)
    finally:
        stop(proc)


def bench_probot(args: argparse.Namespace, tmp: Path, pem: str) -> dict[str, float] | None:
    probot_dir = ROOT / "bench" / "probot"
    if shutil.which("node") is None:
        print("probot: node not found; skipped", file=sys.stderr)
        return None
    if not (probot_dir / "node_modules" / "probot").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=probot_dir, check=True)
    port = free_port()
    env = {
        **os.environ,
        "APP_ID": "1",
        "PRIVATE_KEY": pem,
        "WEBHOOK_SECRET": SECRET,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "warn",
        "NODE_ENV": "production",
    }
    proc = start(
        ["node", "node_modules/probot/bin/probot.js", "run", "./index.js"], env, probot_dir, tmp / "probot.log"
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/github/webhooks", ok=(200, 404, 405, 400))
        return run_wrk(f"http://127.0.0.1:{port}", "/api/github/webhooks", args, tmp)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--probot", action="store_true", help="also measure Probot 14 (needs node and npm)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-drain", action="store_true", help="do not wait for the handling to finish")
    parser.add_argument("--prs", type=int, default=1, help="spread the deliveries over this many pull requests")
    parser.add_argument("--database-url", help="the bot's store on PostgreSQL: this new database, dropped after")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers and drop the database
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    pem = private_key()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.database_url:
            with fresh_postgres(args.database_url) as url:
                results["codegen-bot (persisted)"] = bench_bot(args, tmp, pem, url)
        else:
            results["codegen-bot (persisted)"] = bench_bot(args, tmp, pem, f"sqlite:///{tmp / 'bench.db'}")
        if not args.no_baseline:
            results["gidgethub+aiohttp (no-op, nothing persisted)"] = bench_gidgethub(args, tmp)
        if args.probot:
            results["probot 14 (no-op, nothing persisted)"] = bench_probot(args, tmp, pem)
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"payload {PAYLOAD.name}: {PAYLOAD.stat().st_size} bytes; {args.connections} connections, {args.duration} s;"
          f" {args.prs} pull request(s); codegen-bot's store: {store}")
    print(f"{'server':48} {'deliveries/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        if r is None:
            continue
        print(f"{name:48} {r['rps']:13.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non2xx']:8d}")
    bot = results["codegen-bot (persisted)"]
    assert bot is not None
    durable = "every acknowledged delivery stored" if bot["stored"] >= bot["acknowledged"] else "DELIVERIES LOST"
    print(
        f"codegen-bot: {bot['requests']} requests, {bot['acknowledged']} acknowledged, {bot['stored']} stored"
        f" ({durable}), handled all in {bot['drain_s']:.1f} s after the load"
        f" ({bot['pending_after_drain']} still pending), socket errors: {bot['socket_errors']}"
    )
    print(json.dumps(results, indent=1))
    if bot["stored"] < bot["acknowledged"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
