"""Fuzzing `POST /webhook` on a running `codegen-bot serve` (issue 12: the intake family).

Ten thousand generated requests: malformed, truncated, huge (declared), deeply nested, wrongly encoded
and wrongly signed deliveries, mixed with correctly signed ones. Every answer is 2xx or 4xx, never 5xx
(nor a dropped connection), and the store holds exactly the correctly signed JSON objects: nothing
unverified is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.github_ids import new_rsa_key
from tests.support.serve_process import free_port

SECRET = "fuzz-webhook-secret-0123456789"
EVENTS = ["issues", "pull_request", "ping", "check_run", "", "x" * 300, "issue_comment"]


@dataclass
class Server:
    port: int
    db: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz")
    port, nobody = free_port(), free_port()  # GitHub itself is unreachable: only the intake is under test
    env = {**os.environ, "GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": new_rsa_key()[0],
           "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_API_URL": f"http://127.0.0.1:{nobody}",
           "DATABASE_URL": f"sqlite:///{tmp / 'bot.db'}", "HOST": "127.0.0.1", "PORT": str(port),
           "LOG_LEVEL": "ERROR", "INTAKE_PROCESSES": "2", "WORKER_CONCURRENCY": "1"}
    log = (tmp / "serve.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve"], env=env, cwd=tmp, stdout=log,
                            stderr=log)
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            assert time.monotonic() < deadline, "the bot did not start"
            time.sleep(0.1)
    yield Server(port, tmp / "bot.db", proc)
    proc.terminate()
    proc.wait(timeout=20)


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


#: header values any HTTP client can send (no line breaks or NUL; those never reach a server)
header_text = st.text(alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)))
nested = st.integers(min_value=1, max_value=5_000).map(lambda n: b"[" * n + b"]" * n)
json_object = st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20)), max_size=4).map(
    lambda d: __import__("json").dumps({"action": "opened", **d}).encode()
)
bodies = st.one_of(st.binary(max_size=300), json_object, nested, st.just(b"\xff\xfe{\x00}"),
                   json_object.map(lambda b: b[: len(b) // 2]))


@dataclass(frozen=True)
class Case:
    body: bytes
    event: str
    delivery: str
    signature: str
    extra: tuple[tuple[str, str], ...]
    declared: int | None

    @property
    def signed(self) -> bool:
        return self.signature == sign(self.body)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    body = draw(bodies)
    signature = draw(st.sampled_from(["good", "good", "wrong", "missing", "sha1", "garbage"]))
    garbage = draw(header_text.filter(lambda t: len(t) <= 80))
    value = {"good": sign(body), "wrong": sign(body, "not-the-secret"), "missing": "",
             "sha1": "sha1=" + hashlib.sha1(body).hexdigest(), "garbage": garbage}[signature]
    extra = draw(st.lists(st.sampled_from([("Content-Encoding", "gzip"), ("Content-Encoding", "identity"),
                                           ("Content-Type", "text/plain"), ("X-Odd", "\u00e9t\u00e9")]), max_size=2))
    declared = draw(st.one_of(st.none(), st.just(30 * 1024 * 1024)))
    too_long = st.text("0123456789abcdef-", min_size=201, max_size=260)
    delivery = draw(st.one_of(st.uuids().map(str), st.just(""), too_long))
    return Case(body, draw(st.sampled_from(EVENTS)), delivery, value, tuple(extra), declared)


def send(port: int, case: Case) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest("POST", "/webhook", skip_accept_encoding=True)
        headers = {"X-GitHub-Event": case.event, "X-GitHub-Delivery": case.delivery,
                   "X-Hub-Signature-256": case.signature, **dict(case.extra)}
        for name, value in headers.items():
            if value:
                conn.putheader(name, value.encode("utf-8", "replace").decode("latin-1"))
        conn.putheader("Content-Length", str(case.declared if case.declared is not None else len(case.body)))
        conn.endheaders()
        if case.declared is None:
            conn.send(case.body)
        return conn.getresponse().status
    finally:
        conn.close()


STORED_OK: set[str] = set()


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=cases())
def test_no_input_gets_a_5xx_and_nothing_unverified_is_stored(server: Server, case: Case) -> None:
    status = send(server.port, case)
    assert 200 <= status < 500, (status, case)
    if status == 202:
        assert case.signed and case.declared is None, case
        STORED_OK.add(case.delivery)


def test_the_store_holds_only_verified_deliveries(server: Server) -> None:
    with sqlite3.connect(server.db) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM deliveries")}
    assert stored <= STORED_OK
    assert STORED_OK, "no generated case was a valid delivery: the fuzzer tests nothing"
