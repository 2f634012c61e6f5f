"""Attack family: a hostile `.github/codegen.yml` (issue 12, item 4).

Before the fix a 555-byte file of nested aliases (the "billion laughs") took seconds and hundreds of MB,
on the event loop, because the line-number walk re-walked every aliased node.
"""

from __future__ import annotations

import io
import threading
import tracemalloc
from pathlib import Path

import pytest

from config import loader
from config.check import check_config_command
from config.loader import FetchedFile, RepoConfigLoader, load_text

LAUGHS = "a: &a [" + ",".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def only_error(text: str) -> str:
    loaded = load_text(text, "codegen.yml")
    assert loaded.config is None and len(loaded.errors) == 1, loaded.errors
    return loaded.errors[0].message


def test_the_billion_laughs_is_refused_without_expanding_it() -> None:
    assert len(LAUGHS.encode()) < 600
    tracemalloc.start()
    try:
        message = only_error(LAUGHS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "aliases" in message
    assert peak < 5 * 1024 * 1024, f"parsing took {peak / 2**20:.0f} MiB"


def test_even_one_alias_is_refused_with_its_line() -> None:
    loaded = load_text("snapshot:\n  build: &b [make]\n  test: *b\n", "codegen.yml")
    assert [(e.line, "aliases" in e.message) for e in loaded.errors] == [(3, True)]


@pytest.mark.parametrize(("text", "words"), [
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
    ("x: [" + ",".join(["1"] * 20_000) + "]\n", "more than 10000"),
    ("x: '" + "y" * (1024 * 1024 + 10) + "'\n", "larger than 1024 KiB"),
])
def test_depth_nodes_and_size_are_capped(text: str, words: str) -> None:
    assert words in only_error(text)


def test_check_config_gives_the_same_answer(tmp_path: Path) -> None:
    path = tmp_path / "codegen.yml"
    path.write_text(LAUGHS)
    out = io.StringIO()
    assert check_config_command(path, out) == 1
    assert "aliases" in out.getvalue() and out.getvalue().count("\n") == 1


async def test_the_loader_parses_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real_parse = loader._parse

    def recording_parse(text: str, file: str) -> object:
        threads.append(threading.current_thread().name)
        return real_parse(text, file)

    monkeypatch.setattr(loader, "_parse", recording_parse)

    async def fetch(installation_id: int, owner: str, repo: str, path: str, ref: str | None) -> FetchedFile:
        return FetchedFile(LAUGHS, "sha-1")

    loaded = await RepoConfigLoader(fetch).load("o", "r", "main", installation_id=1)
    assert loaded.config is None and "aliases" in loaded.errors[0].message
    assert threads and threading.main_thread().name not in threads
