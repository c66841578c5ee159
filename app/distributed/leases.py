"""A worker's leases on its sessions: claimed with SET NX PX, renewed together by a heartbeat, given up at close.

A lease that could not be renewed is lost: the worker stops the session without emitting anything more (another
worker may already be resuming it). `valid()` is the local fence: an event is stored only while the worker's
last successful renewal is younger than the lease, so a worker that was frozen longer than that (a long GC, a
SIGSTOP) cannot write after its successor started; the store's unique (session, seq) is the last guard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from agents.background import BackgroundTasks
from app.distributed.bus import WORKERS_HASH, lease_key

log = logging.getLogger(__name__)

# Renew each key that is still ours, take back one that expired with nobody else holding it (this worker
# refused to write meanwhile, see valid()); return the keys another worker holds now (lost leases).
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, key)
  end
end
return lost
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


class LeaseKeeper:
    def __init__(self, redis: Redis, worker_id: str, ttl_s: float, on_lost: Callable[[str], Awaitable[None]]) -> None:
        self._redis = redis
        self.worker_id = worker_id
        self._ttl_ms = int(ttl_s * 1000)
        self._held: set[str] = set()
        self._renewed_at = time.monotonic()
        self._on_lost = on_lost
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._task: asyncio.Task[None] | None = None
        self._stopping = BackgroundTasks()  # sessions being stopped after their lease was lost

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def valid(self) -> bool:
        """Whether our leases are certainly still ours (renewed less than a lease ago, with a margin)."""
        return (time.monotonic() - self._renewed_at) * 1000 < self._ttl_ms * 0.9

    async def holder(self, session_id: str) -> str | None:
        value = await self._redis.get(lease_key(session_id))
        return str(value) if value is not None else None

    async def holders(self, session_ids: list[str]) -> list[str | None]:
        """Who holds each session, in one round trip."""
        if not session_ids:
            return []
        values = await self._redis.mget([lease_key(s) for s in session_ids])
        return [str(v) if v is not None else None for v in values]

    async def claim(self, session_id: str) -> bool:
        if await self._redis.set(lease_key(session_id), self.worker_id, nx=True, px=self._ttl_ms):
            self._held.add(session_id)
            return True
        if await self.holder(session_id) == self.worker_id:  # ours already (a retried claim)
            self._held.add(session_id)
            return True
        return False

    async def release(self, session_id: str) -> None:
        self._held.discard(session_id)
        await self._release(keys=[lease_key(session_id)], args=[self.worker_id])

    def start(self) -> None:
        self._task = asyncio.create_task(self._heartbeat(), name="lease-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._stopping.drain(timeout=10)
        for session_id in list(self._held):
            await self.release(session_id)
        await self._redis.hdel(WORKERS_HASH, self.worker_id)  # type: ignore[misc]  # redis-py: one stub, sync|async

    async def _heartbeat(self) -> None:
        every = self._ttl_ms / 3000
        while True:
            started = time.monotonic()
            try:
                await self.renew()
                self._renewed_at = started
            except Exception:  # Redis away: keep trying; valid() turns False after a lease
                log.exception("lease renewal failed")
            await asyncio.sleep(every)

    async def renew(self) -> None:
        held = list(self._held)
        await self._redis.hset(WORKERS_HASH, self.worker_id, str(time.time()))  # type: ignore[misc]  # as above
        if not held:
            return
        lost = await self._renew(keys=[lease_key(s) for s in held], args=[self.worker_id, self._ttl_ms])
        for key in lost or []:
            session_id = str(key).split(":", 2)[-1]
            if session_id in self._held:
                self._held.discard(session_id)
                log.warning("lease lost", extra={"session_id": session_id})
                self._stopping.spawn(self._on_lost(session_id))  # never hold up the other sessions' renewals
