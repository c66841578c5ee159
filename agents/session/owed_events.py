"""Events a session owes its clients: ones the store refused (a run's error and run_finished), retried in order
with backoff until the store takes them again, so a store outage ends a run with a clear event once it is over."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from agents.events import SessionPayload
from agents.session.errors import EventNotStored

log = logging.getLogger(__name__)

Emit = Callable[[SessionPayload, str | None], Awaitable[None]]
Spawn = Callable[[Awaitable[None]], asyncio.Future[None]]


class OwedEvents:
    def __init__(self, emit: Emit, spawn: Spawn, *, limit: int = 32, first_delay_s: float = 0.2) -> None:
        """`emit` raises EventNotStored when the store refuses; at most `limit` events are kept (the oldest go)."""
        self._emit = emit
        self._spawn = spawn
        self._owed: deque[tuple[SessionPayload, str | None]] = deque(maxlen=limit)
        self._task: asyncio.Future[None] | None = None
        self._first_delay_s = first_delay_s
        self._stopped = False

    def __len__(self) -> int:
        return len(self._owed)

    def add(self, payload: SessionPayload, run_id: str | None) -> None:
        if self._stopped:
            return
        self._owed.append((payload, run_id))
        if self._task is None or self._task.done():
            self._task = self._spawn(self._deliver())

    def stop(self) -> None:
        self._stopped = True
        self._owed.clear()

    async def _deliver(self, max_delay_s: float = 5.0) -> None:
        delay = self._first_delay_s
        while self._owed and not self._stopped:
            payload, run_id = self._owed[0]
            try:
                await self._emit(payload, run_id)
            except EventNotStored:
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay_s)
                continue
            if self._owed and self._owed[0][0] is payload:
                self._owed.popleft()
            delay = self._first_delay_s
            log.info("owed %s delivered after a store failure", type(payload).__name__)
