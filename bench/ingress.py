"""Ingress benchmark: signed `pull_request/opened` deliveries (the real ~28 KB payload, a unique delivery id
each) on 32 connections for 10 s against `codegen-bot serve`, with wrk. Prints deliveries/s, p50/p99 latency
and non-2xx count, then checks that every acknowledged delivery is in the store.

Side by side in the same run (same load, same machine):
  - `gidgethub`: a bare gidgethub + aiohttp app, verify + dispatch to a no-op, nothing persisted;
  - `probot` (with --probot): Probot 14 on Node, verify + dispatch to a no-op, nothing persisted
    (installed with npm into bench/probot/node_modules on first use).

    python bench/ingress.py [--duration 10] [--connections 32] [--probot] [--no-baseline] [--no-drain]

`INTAKE_PROCESSES=N` in the environment is passed on to the bot (the README's figure uses 2).

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
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = ROOT / "tests" / "fixtures" / "github" / "webhooks" / "pull_request" / "opened.payload.json"
SECRET = "bench-secret-0123456789"

LUA = """
local body = nil
local counter = 0
local prefix = nil
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
function init(args)
  local f = io.open("%(body)s", "rb")
  body = f:read("*a")
  f:close()
  prefix = "%(run)s-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-GitHub-Event"] = "pull_request"
  headers["X-GitHub-Delivery"] = prefix .. counter
  headers["X-Hub-Signature-256"] = "%(signature)s"
  return wrk.format("POST", "%(path)s", headers, body)
end
"""


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


def run_wrk(url: str, path: str, body_file: Path, duration: int, connections: int, tmp: Path) -> dict[str, float]:
    body = body_file.read_bytes()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    script = tmp / f"load-{path.strip('/').replace('/', '_')}.lua"
    script.write_text(LUA % {"body": body_file, "signature": signature, "path": path, "run": os.urandom(4).hex()})
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url + path],
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


def bench_bot(args: argparse.Namespace, tmp: Path, pem: str) -> dict[str, float]:
    stub_port, port = free_port(), free_port()
    stub = start(
        [sys.executable, str(ROOT / "bench" / "github_stub.py"), str(stub_port)],
        dict(os.environ),
        tmp,
        tmp / "stub.log",
    )
    db = tmp / "bench.db"
    env = {
        **os.environ,
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": f"http://127.0.0.1:{stub_port}",
        "DATABASE_URL": f"sqlite:///{db}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # wrk sends one signed body under many delivery ids: with the replay check on, all but the first
        # would be refused as replays, so the bench measures distinct deliveries with it off
        "WEBHOOK_REPLAY_CHECK": "false",
    }
    bot = start([str(Path(sys.executable).parent / "codegen-bot"), "serve"], env, tmp, tmp / "bot.log")
    try:
        wait_http(f"http://127.0.0.1:{stub_port}/", ok=(404,))
        wait_http(f"http://127.0.0.1:{port}/healthz", ok=(200,))
        result = run_wrk(f"http://127.0.0.1:{port}", "/webhook", PAYLOAD, args.duration, args.connections, tmp)
        drain_start = time.monotonic()
        while True:
            if args.no_drain:
                with sqlite3.connect(db) as conn:
                    pending = conn.execute("SELECT count(*) FROM deliveries WHERE state='pending'").fetchone()[0]
                    stored = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
                break
            with sqlite3.connect(db) as conn:
                pending = conn.execute("SELECT count(*) FROM deliveries WHERE state='pending'").fetchone()[0]
                stored = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
            if pending == 0 or time.monotonic() - drain_start > 300:
                break
            time.sleep(0.5)
        result["stored"] = stored
        result["drain_s"] = time.monotonic() - drain_start
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
        return run_wrk(f"http://127.0.0.1:{port}", "/webhook", PAYLOAD, args.duration, args.connections, tmp)
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
        return run_wrk(
            f"http://127.0.0.1:{port}", "/api/github/webhooks", PAYLOAD, args.duration, args.connections, tmp
        )
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--probot", action="store_true", help="also measure Probot 14 (needs node and npm)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-drain", action="store_true", help="do not wait for the handling to finish")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results["codegen-bot (persisted)"] = bench_bot(args, tmp, pem)
        if not args.no_baseline:
            results["gidgethub+aiohttp (no-op, nothing persisted)"] = bench_gidgethub(args, tmp)
        if args.probot:
            results["probot 14 (no-op, nothing persisted)"] = bench_probot(args, tmp, pem)
    print(f"payload {PAYLOAD.name}: {PAYLOAD.stat().st_size} bytes; {args.connections} connections, {args.duration} s")
    print(f"{'server':48} {'deliveries/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in results.items():
        if r is None:
            continue
        print(f"{name:48} {r['rps']:13.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['non2xx']:8d}")
    bot = results["codegen-bot (persisted)"]
    assert bot is not None
    print(
        f"codegen-bot: {bot['requests']} requests, {bot['stored']} stored,"
        f" handled all in {bot['drain_s']:.1f} s after the load"
        f" ({bot['pending_after_drain']} still pending), socket errors: {bot['socket_errors']}"
    )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
