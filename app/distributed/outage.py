"""What a process knows of its Redis: up, or down since when and why; and how its loops wait to try again.

Every loop that talks to Redis (a worker's stream readers, its publisher, reaper and lease heartbeat; a gateway's
pub/sub reader) reports each failure with `failed()` and each success with `ok()`. An outage starts with the first
failure and ends with the first success after it: it is logged once when it starts and once when it ends (not per
attempt), counted in `research_team_redis_reconnects_total` and `research_team_redis_outage_seconds_total`, and
`research_team_redis_up` is 0 meanwhile; a gateway's /health says `degraded` with the reason. Loops wait between
attempts with `backoff()`: capped exponential with jitter, so nothing spins while Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from typing import Literal

from prometheus_client import Counter, Gauge

from app.core.metrics import REGISTRY

log = logging.getLogger(__name__)

Role = Literal["gateway", "worker"]
BACKOFF_FIRST_S = 0.1
BACKOFF_CAP_S = 2.0

RECONNECTS = Counter(
    "research_team_redis_reconnects", "Redis outages this process recovered from, by role.", ["role"], registry=REGISTRY
)
OUTAGE_SECONDS = Counter(
    "research_team_redis_outage_seconds",
    "Seconds this process could not reach Redis, by role.",
    ["role"],
    registry=REGISTRY,
)
REDIS_UP = Gauge(
    "research_team_redis_up", "1 while this process reaches Redis, 0 during an outage.", ["role"], registry=REGISTRY
)


def backoff_s(attempt: int) -> float:
    """The wait before attempt `attempt + 1` (attempt >= 1): 0.1, 0.2, 0.4, ... up to 2 s, with 20 % jitter."""
    base = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2.0 ** max(0, attempt - 1))
    return float(base * random.uniform(0.8, 1.2))  # jitter, not cryptography


class RedisLink:
    """One per process (shared by its loops and the heartbeat thread)."""

    def __init__(self, role: Role) -> None:
        self.role: Role = role
        self._guard = threading.Lock()
        self._down_since: float | None = None
        self._reason = ""
        self._up_since: float | None = None  # since the last outage ended (None: none yet)
        self.outages = 0
        REDIS_UP.labels(role).set(1)
        RECONNECTS.labels(role)
        OUTAGE_SECONDS.labels(role)

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def reason(self) -> str | None:
        """Why Redis is unreachable now (for /health), None while it is up."""
        with self._guard:
            if self._down_since is None:
                return None
            return f"Redis unreachable for {time.monotonic() - self._down_since:.0f} s: {self._reason}"

    def up_for(self) -> float:
        """Seconds since the last outage ended (infinite before the first one); 0 while Redis is down."""
        if self.down:
            return 0.0
        return float("inf") if self._up_since is None else time.monotonic() - self._up_since

    def failed(self, where: str, exc: BaseException) -> None:
        with self._guard:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self._reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.outages += 1
        REDIS_UP.labels(self.role).set(0)
        log.warning("Redis unreachable (%s): %s; retrying with backoff", where, self._reason)

    def ok(self) -> None:
        if self._down_since is None:
            return
        with self._guard:
            if self._down_since is None:
                return
            lasted = time.monotonic() - self._down_since
            self._down_since = None
            self._up_since = time.monotonic()
        RECONNECTS.labels(self.role).inc()
        OUTAGE_SECONDS.labels(self.role).inc(lasted)
        REDIS_UP.labels(self.role).set(1)
        log.warning("Redis reachable again after %.1f s", lasted)

    async def wait(self, attempt: int) -> None:
        await asyncio.sleep(backoff_s(attempt))
