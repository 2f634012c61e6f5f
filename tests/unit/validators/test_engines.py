"""`DOCKER_HOSTS` parsing and the placement of a validation on an engine (pure functions)."""

from __future__ import annotations

import asyncio

import pytest

from config.docker_hosts import EngineSpec, parse_docker_hosts
from config.settings import SettingsError, load_settings
from validators.engine_pool import EnginePool, EngineUnavailable
from validators.engines import Load, place


def test_empty_is_the_environments_engine() -> None:
    assert parse_docker_hosts("", 3, {}) == [EngineSpec("", 3, remote=False)]
    assert parse_docker_hosts(" , ", 2, {"DOCKER_HOST": "tcp://h:2376"}) == [EngineSpec("", 2, remote=True)]


def test_endpoints_and_their_settings() -> None:
    specs = parse_docker_hosts(
        "unix:///var/run/docker.sock, tcp://build-1:2376?slots=4&cert_path=/certs/b1,"
        "ssh://bot@build-2?slots=1, unix:///run/d2.sock?remote=true", 2, {"DOCKER_TLS_VERIFY": "1"})
    assert specs == [
        EngineSpec("unix:///var/run/docker.sock", 2, remote=False),
        EngineSpec("tcp://build-1:2376", 4, remote=True, tls_verify=True, cert_path="/certs/b1"),
        EngineSpec("ssh://bot@build-2", 1, remote=True),
        EngineSpec("unix:///run/d2.sock", 2, remote=True),
    ]
    assert specs[2].name == "ssh://build-2"  # no user name in logs
    assert parse_docker_hosts("tcp://h:2375?tls_verify=0", 1, {"DOCKER_TLS_VERIFY": "1"})[0].tls_verify is False


@pytest.mark.parametrize(("value", "message"), [
    ("http://h:2375", "must start with unix://, tcp:// or ssh://"),
    ("tcp://h:2375?slots=0", "slots must be between 1 and 64"),
    ("tcp://h:2375?slots=x", "slots must be a whole number"),
    ("tcp://h:2375?colour=red", "unknown setting colour"),
    ("unix://", "needs a socket path"),
    ("tcp://", "needs a host"),
    ("tcp://h:1,tcp://h:1", "listed twice"),
    ("tcp://h:1?remote=maybe", "remote must be true or false"),
])
def test_bad_values_name_the_entry(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_docker_hosts(value, 2, {})


def test_a_bad_setting_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOSTS", "tcp://h:1?slots=0")
    with pytest.raises(SettingsError, match="DOCKER_HOSTS"):
        load_settings(_env_file=None)


def test_least_loaded_engine_with_a_free_slot() -> None:
    assert place([Load(1, 0), Load(1, 0)]) == 0
    assert place([Load(1, 1), Load(1, 0)]) == 1  # one slot each: the second validation goes to the other
    assert place([Load(2, 1), Load(4, 1)]) == 1  # 1/4 busy beats 1/2
    assert place([Load(2, 0), Load(4, 0)]) == 1  # equally idle: more free slots
    assert place([Load(2, 1), Load(2, 1)]) == 0  # a tie: the first listed


def test_no_free_slot_or_engine_down() -> None:
    assert place([Load(1, 1), Load(2, 2)]) is None
    assert place([Load(2, 0, up=False), Load(2, 1)]) == 1
    assert place([Load(2, 0, up=False)]) is None
    assert place([]) is None


class FakeClient:
    def __init__(self, up: bool) -> None:
        self.up = up

    def ping(self) -> bool:
        if not self.up:
            raise ConnectionError("engine down")
        return True


def pool_of(*up: bool) -> EnginePool:
    clients = {f"tcp://e{i}:2375": FakeClient(state) for i, state in enumerate(up)}
    specs = parse_docker_hosts(",".join(f"{url}?slots=1" for url in clients), 1)
    return EnginePool(specs, connector=lambda spec: clients[spec.url])  # type: ignore[arg-type,return-value]


async def test_the_pool_spreads_waits_and_skips_engines_that_are_down() -> None:
    pool = pool_of(True, False, True)
    async with pool.slot() as first, pool.slot() as second:
        assert (first.name, second.name) == ("tcp://e0:2375", "tcp://e2:2375")  # e1 does not answer
        assert [load.up for load in pool.loads()] == [True, False, True]
        waiting = asyncio.ensure_future(pool.slot().__aenter__())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # every engine that is up is busy
    third = await asyncio.wait_for(waiting, 1)
    assert third.name == "tcp://e0:2375" and pool.total_slots == 3


async def test_no_engine_answers() -> None:
    pool = pool_of(False)
    with pytest.raises(EngineUnavailable):
        async with pool.slot():
            pass
