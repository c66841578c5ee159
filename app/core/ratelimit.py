"""Token buckets: `rate` tokens per second, up to `burst` at once; and a bounded table of them by key."""

from __future__ import annotations

import time


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False


class RateBuckets:
    """One TokenBucket per key (a client address, a user), `per_min` requests a minute each. The table is
    bounded: past `max_keys` it starts afresh (a flood of new keys cannot grow it)."""

    def __init__(self, per_min: int, max_keys: int = 10_000) -> None:
        self._per_min = per_min
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> bool:
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate=self._per_min / 60.0, burst=max(1, self._per_min))
        return bucket.take()
