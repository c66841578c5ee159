"""What a worker checks before it acts on a command read from Redis (the signature itself: signing.py).

1. The MAC, in constant time: unsigned, forged and malformed entries are dropped.
2. The validity window: issued no later than CLOCK_SKEW_S from now, valid for at most MAX_VALIDITY_S, and not
   past its deadline (its gateway has given up and told the client).
3. Replay: the command's (id, hops) must be new. Here, a bounded cache of the ids seen while still valid; across
   the cluster, `SET rt:seen:<id>:<hops> NX` until the deadline, so the same signed command copied to another
   worker's stream (or to placement again) is refused there too. A forwarded command (hops + 1, re-signed by the
   forwarding worker) is a new message; a gateway's retry carries a new id.
4. Then, in the worker: the session's owner in the store must be the command's owner (else it answers
   not_found, as for any session of someone else), and a task's budget is clamped to the server's RUN_MAX_*.

Every refusal is counted by reason (a closed set) in `research_team_worker_commands_refused_total`; dropped
commands get no reply (a forger learns nothing); the log says so, sparingly (a flood does not flood the log).
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable

from prometheus_client import Counter
from redis.asyncio import Redis

from app.core.metrics import REGISTRY
from app.distributed.bus import Command, seen_key
from app.distributed.signing import CLOCK_SKEW_S, DROP_REASONS, MAX_VALIDITY_S, BusSigner, DropReason, Rejected

log = logging.getLogger(__name__)

REPLAY_CACHE_MAX = 100_000  # ids remembered at most (each until its deadline); past it new commands are refused
LOG_EVERY = 100  # a refusal is logged the first time and then once in this many, per reason

COMMANDS_REFUSED = Counter(
    "research_team_worker_commands_refused",
    "Commands a worker refused: unsigned, bad_signature, malformed, bad_time, expired, replayed, "
    "replay_cache_full (dropped unanswered), wrong_owner (answered not_found).",
    ["reason"],
    registry=REGISTRY,
)
for _reason in DROP_REASONS:
    COMMANDS_REFUSED.labels(_reason)


class ReplayCache:
    """Command keys seen, each kept until its expiry; at most `limit` of them."""

    def __init__(self, limit: int = REPLAY_CACHE_MAX) -> None:
        self._limit = limit
        self._until: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def remember(self, key: str, until: float, now: float) -> None:
        """Rejected("replayed") when `key` was seen and is still valid; Rejected("replay_cache_full") when the
        cache holds `limit` valid keys (a flood of valid commands: refusing beats forgetting)."""
        seen = self._until.get(key)
        if seen is not None and seen >= now:
            raise Rejected("replayed")
        if len(self._until) >= self._limit:
            self._until = {k: u for k, u in self._until.items() if u >= now}
            if len(self._until) >= self._limit:
                raise Rejected("replay_cache_full")
        self._until[key] = until


class CommandIntake:
    def __init__(
        self, signer: BusSigner, redis: Redis, *, clock: Callable[[], float] = time.time, cache_limit: int = 0
    ) -> None:
        self.signer = signer
        self._redis = redis
        self._clock = clock
        self._cache = ReplayCache(cache_limit or REPLAY_CACHE_MAX)
        self.refused: Tally[str] = Tally()  # by reason, this worker's own (tests; the metric is per process)

    def check(self, fields: dict[str, str]) -> Command | None:
        """The command if it is signed, in its window and new to this worker; None (counted) if not."""
        try:
            command = self.signer.open_command(fields)
            now = self._clock()
            issued, deadline = command.issued_at, command.deadline
            if issued <= 0 or issued > now + CLOCK_SKEW_S or not issued < deadline <= issued + MAX_VALIDITY_S:
                raise Rejected("bad_time")
            if now > deadline:
                raise Rejected("expired")
            self._cache.remember(seen_key(command.id, command.hops), deadline + CLOCK_SKEW_S, now)
        except Rejected as refused:
            self.count(refused.reason)
            return None
        return command

    async def first_in_cluster(self, command: Command) -> bool:
        """Whether no worker took this very command before (SET NX until its deadline); counted if one did."""
        ttl_ms = max(1, int((command.deadline + CLOCK_SKEW_S - self._clock()) * 1000))
        if await self._redis.set(seen_key(command.id, command.hops), "1", nx=True, px=ttl_ms):
            return True
        self.count("replayed")
        return False

    def count(self, reason: DropReason) -> None:
        self.refused[reason] += 1
        COMMANDS_REFUSED.labels(reason).inc()
        if self.refused[reason] % LOG_EVERY == 1:
            log.warning("refused a command from Redis", extra={"reason": reason, "so_far": self.refused[reason]})
