"""WORKER_CONCURRENCY: 4 on SQLite; unset on PostgreSQL it is 16 (each delivery waits on three round trips to
the server: bench/handling.py went from 643/s to 1,101/s); set, it is what the operator said."""

from __future__ import annotations

import pytest

from config.settings import POSTGRES_WORKER_CONCURRENCY, Settings

PG = "postgresql://codegen:codegen@127.0.0.1:5432/codegen"


def test_the_default_depends_on_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKER_CONCURRENCY", raising=False)
    assert Settings(_env_file=None).handling_concurrency == 4
    assert Settings(_env_file=None, database_url=PG).handling_concurrency == POSTGRES_WORKER_CONCURRENCY == 16


def test_an_operators_value_wins_on_either_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "4")  # even the SQLite default, said explicitly, is kept
    assert Settings(_env_file=None, database_url=PG).handling_concurrency == 4
    assert Settings(_env_file=None, database_url=PG, worker_concurrency=7).handling_concurrency == 7
    assert Settings(_env_file=None, worker_concurrency=2).handling_concurrency == 2
