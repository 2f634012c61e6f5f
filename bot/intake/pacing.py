"""Ingest first: while webhooks are arriving, handling slows down so that acknowledging stays fast.

GitHub waits for our answer (and gives up after 10 s); handling can wait. Both share one event loop, so
during a burst the worker would take CPU from the intake process. Decision: while the intake process is under load —
at least `burst` requests within the last `window` seconds (default 10 in 100 ms, i.e. 100/s) — the worker
starts at most `rate` deliveries per second (a token bucket); otherwise (normal traffic, however steady)
it runs at full speed. Nothing is lost either way: every delivery is
already committed to the store before it is acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class IntakePressure:
    def __init__(self, window: float = 0.1, burst: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._recent: deque[float] = deque(maxlen=burst)

    def mark(self) -> None:
        self._recent.append(self._clock())

    @property
    def busy(self) -> bool:
        recent = self._recent
        return len(recent) == recent.maxlen and self._clock() - recent[0] < self.window


class HandlingPacer:
    def __init__(self, pressure: IntakePressure, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.pressure = pressure
        self.rate = rate
        self._clock = clock
        self._tokens = 1.0
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Return when the worker may start one more delivery."""
        if self.rate <= 0:
            return
        async with self._lock:
            while self.pressure.busy:
                now = self._clock()
                self._tokens = min(1.0, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                # never below 1 ms: uvloop's timers have millisecond resolution, and a stream of 0 ms
                # timers was seen to starve its cross-thread wake-ups (the store's commit callbacks)
                await asyncio.sleep(max(0.001, (1.0 - self._tokens) / self.rate))
            self._tokens, self._stamp = 1.0, self._clock()
