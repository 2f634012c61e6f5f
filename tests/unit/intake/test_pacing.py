"""Ingest first, but only under load: the pacer's decisions with a fake clock."""

from __future__ import annotations

from bot.intake.pacing import HandlingPacer, IntakePressure


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steady_traffic_is_not_load_but_a_burst_is() -> None:
    clock = Clock()
    pressure = IntakePressure(window=0.1, burst=10, clock=clock)
    for _ in range(50):  # one delivery every 20 ms: 50/s, normal
        pressure.mark()
        clock.now += 0.02
        assert not pressure.busy
    for _ in range(10):  # ten within 10 ms
        pressure.mark()
        clock.now += 0.001
    assert pressure.busy
    clock.now += 0.2
    assert not pressure.busy


async def test_the_pacer_waits_only_under_load() -> None:
    clock = Clock()
    pressure = IntakePressure(clock=clock)
    pacer = HandlingPacer(pressure, rate=20, clock=clock)
    await pacer.wait()  # idle: immediate
    for _ in range(10):
        pressure.mark()
    await pacer.wait()  # the first token is there
    assert pressure.busy
