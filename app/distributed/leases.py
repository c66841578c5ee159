"""A worker's leases on its sessions: claimed with SET NX PX, renewed together by a heartbeat, given up at close.

The heartbeat runs in its own thread with its own (blocking) Redis connection, so a lease means "this worker
process is alive", not "its event loop is idle": a worker busy with hundreds of runs keeps its sessions, while
a frozen process (a long GC pause, SIGSTOP, a partition) freezes the heartbeat with it and loses them.

A lease another worker holds now is lost: the session is stopped here without emitting anything more. `valid()`
is the local fence: an event is stored only while the last successful renewal is younger than the lease, so a
worker that was frozen longer than that cannot write after its successor started; the store's unique
(session, seq) is the last guard. A lease that expired with nobody else holding it is simply taken back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable

import redis as blocking_redis
from redis.asyncio import Redis

from agents.background import BackgroundTasks
from app.distributed.bus import WORKERS_HASH, lease_key
from app.distributed.outage import RedisLink

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
    def __init__(
        self,
        redis: Redis,
        redis_url: str,
        worker_id: str,
        ttl_s: float,
        on_lost: Callable[[str], Awaitable[None]],
        *,
        link: RedisLink | None = None,
    ) -> None:
        self._link = link or RedisLink("worker")
        self._redis = redis
        self._redis_url = redis_url
        self.worker_id = worker_id
        self._ttl_ms = int(ttl_s * 1000)
        self._held: set[str] = set()
        self._guard = threading.Lock()  # _held is shared with the heartbeat thread
        self._renewed_at = time.monotonic()
        self._on_lost = on_lost
        self._release = redis.register_script(_RELEASE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = BackgroundTasks()  # sessions being stopped after their lease was lost

    @property
    def held(self) -> frozenset[str]:
        with self._guard:
            return frozenset(self._held)

    def holds(self, session_id: str) -> bool:
        with self._guard:
            return session_id in self._held

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
        taken = await self._redis.set(lease_key(session_id), self.worker_id, nx=True, px=self._ttl_ms)
        if taken or await self.holder(session_id) == self.worker_id:  # ours already: a retried claim
            with self._guard:
                self._held.add(session_id)
            return True
        return False

    async def release(self, session_id: str) -> None:
        with self._guard:
            self._held.discard(session_id)
        await self._release(keys=[lease_key(session_id)], args=[self.worker_id])

    # ---- the heartbeat ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Renew once now (announcing the worker), then every third of a lease from the heartbeat thread."""
        self._loop = asyncio.get_running_loop()
        client = blocking_redis.Redis.from_url(
            self._redis_url, decode_responses=True, socket_timeout=self._ttl_ms / 2000
        )
        self._renew_once(client, client.register_script(_RENEW))
        self._thread = threading.Thread(target=self._heartbeat, args=(client,), name="lease-heartbeat", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        await self._stopping.drain(timeout=10)
        for session_id in list(self.held):
            await self.release(session_id)
        await self._redis.hdel(WORKERS_HASH, self.worker_id)  # type: ignore[misc]  # redis-py: one stub, sync|async

    def _heartbeat(self, client: blocking_redis.Redis) -> None:
        renew = client.register_script(_RENEW)
        every, wait = self._ttl_ms / 3000, self._ttl_ms / 3000
        while not self._stop.wait(wait):
            try:
                self._renew_once(client, renew)  # after Redis restarted empty: registers and re-takes our leases
                self._link.ok()
                wait = every
            except blocking_redis.RedisError as exc:  # Redis away: valid() turns False after a lease
                self._link.failed("renewing leases", exc)
                wait = min(every, 0.5)  # try again soon: every renewal missed brings the fence closer
            except Exception:
                log.exception("lease renewal failed")
        client.close()

    def _renew_once(self, client: blocking_redis.Redis, renew: blocking_redis.commands.core.Script) -> None:
        started = time.monotonic()
        held = list(self.held)
        client.hset(WORKERS_HASH, self.worker_id, str(time.time()))
        lost = renew(keys=[lease_key(s) for s in held], args=[self.worker_id, self._ttl_ms]) if held else []
        gone = []
        with self._guard:  # before the fence opens again: a lost session must not pass holds() meanwhile
            for key in lost or []:
                session_id = str(key).split(":", 2)[-1]
                if session_id in self._held:
                    self._held.discard(session_id)
                    gone.append(session_id)
        self._renewed_at = started
        for session_id in gone:
            log.warning("lease lost", extra={"session_id": session_id})
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._stop_session, session_id)

    def _stop_session(self, session_id: str) -> None:
        self._stopping.spawn(self._on_lost(session_id))
