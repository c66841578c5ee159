"""How late this process's event loop runs: a worker that is behind stops taking new sessions (backpressure)."""

from __future__ import annotations

import asyncio
import time

TICK_S = 0.05
OVERLOADED_S = 0.25  # a callback scheduled now would run this late: too busy to take more work


class LoopLag:
    def __init__(self, limit_s: float = OVERLOADED_S) -> None:
        self._limit_s = limit_s
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None
        self._keeping_up = asyncio.Event()
        self._keeping_up.set()

    @property
    def overloaded(self) -> bool:
        return self.lag_s > self._limit_s

    async def keeping_up(self) -> None:
        """Returns when the loop is not overloaded (at once, most of the time)."""
        await self._keeping_up.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._measure(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _measure(self) -> None:
        while True:
            started = time.monotonic()
            await asyncio.sleep(TICK_S)
            late = time.monotonic() - started - TICK_S
            self.lag_s = late if late > self.lag_s else 0.8 * self.lag_s + 0.2 * late  # rises at once, falls slowly
            if self.overloaded:
                self._keeping_up.clear()
            else:
                self._keeping_up.set()
