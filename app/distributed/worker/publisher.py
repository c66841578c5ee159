"""A worker's event log: stored first (with its checkpoint), then published on Redis for the gateways.

Publications go through one bounded queue drained by one task in pipelined batches, so a session's events leave
in seq order and a busy worker sends few round trips. Should the queue ever be full, the publication is dropped
and counted: gateways notice the gap at the session's next event and read what they missed from the store.
Each publication is signed for its channel (signing.py): gateways deliver nothing that anyone on Redis wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents.events import SessionPayload
from agents.session.checkpoint import Checkpoint
from app.core.protocol import AnyServerEvent
from app.core.redaction import Redactor
from app.distributed.bus import EventNote, events_channel
from app.distributed.outage import RedisLink
from app.distributed.signing import BusSigner
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore, StoreError

log = logging.getLogger(__name__)

FENCE_WAIT_S = 60.0  # how long an event waits for its lease to be renewed (Redis away) before it is refused
NOT_HELD = "This worker no longer holds the session."
RETRIES = 40  # attempts at one batch while Redis is away (about a minute with backoff capped at 2 s)


class EventPublisher:
    def __init__(
        self, redis: Redis, signer: BusSigner, *, limit: int = 50_000, batch: int = 256, link: RedisLink | None = None
    ) -> None:
        self._redis = redis
        self._link = link or RedisLink("worker")
        self._signer = signer
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(limit)
        self._batch = batch
        self.dropped = 0
        self.published = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name="event-publisher")

    async def stop(self) -> None:
        """Publish what is queued (for up to 10 s: Redis may be away), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), 10)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def publish(self, session_id: str, seq: int, text: str) -> None:
        channel = events_channel(session_id)
        note = self._signer.seal("event", channel, EventNote(seq=seq, text=text).model_dump_json())
        try:
            self._queue.put_nowait((channel, note))
        except asyncio.QueueFull:
            self.dropped += 1

    async def _drain(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self._batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._send(items)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _send(self, items: list[tuple[str, str]]) -> None:
        """Publish a batch; while Redis is away, try again with backoff (what arrives twice, gateways drop by seq),
        up to a minute: past that the batch is dropped and gateways read it from the store."""
        failures = 0
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, note in items:
                        pipe.publish(channel, note)
                    await pipe.execute()
                self.published += len(items)
                self._link.ok()
                return
            except RedisError as exc:  # Redis away: gateways fill any gap from the store
                self._link.failed("publishing events", exc)
                failures += 1
                if failures >= RETRIES:
                    self.dropped += len(items)
                    return
                await self._link.wait(failures)
            except Exception:
                log.exception("publishing %d events failed", len(items))
                self.dropped += len(items)
                return


class WorkerEventLog(SessionEventLog):
    """A session's log on a worker: stores only while the worker certainly holds the session (the fence: while
    its lease is not renewed, events wait in order for a renewal, up to FENCE_WAIT_S; once the session is lost
    they are refused), and publishes every stored event for the gateways."""

    def __init__(
        self,
        session_id: str,
        store: RunStore,
        redactor: Redactor,
        publisher: EventPublisher,
        may_write: Callable[[], bool],
        *,
        last_seq: int,
        owner: str,
    ) -> None:
        super().__init__(session_id, store, redactor, last_seq=last_seq, owner=owner)
        self._publisher = publisher
        self._may_write = may_write
        self._held_back: asyncio.Future[None] | None = None  # the last event waiting for a lease renewal
        self.fenced = False

    def publish(
        self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> asyncio.Future[None]:
        if self.fenced:
            refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            refused.set_exception(StoreError(NOT_HELD))
            return refused
        if self._held_back is None and self._may_write():
            return super().publish(payload, run_id, checkpoint=checkpoint)
        # The lease was not renewed lately (Redis away): wait, in order, for a renewal that proves it is still ours.
        later = asyncio.ensure_future(self._when_renewed(self._held_back, payload, run_id, checkpoint))
        self._held_back = later
        later.add_done_callback(self._release_hold)
        return later

    def _release_hold(self, done: asyncio.Future[None]) -> None:
        if self._held_back is done:
            self._held_back = None

    async def _when_renewed(
        self,
        previous: asyncio.Future[None] | None,
        payload: SessionPayload,
        run_id: str | None,
        checkpoint: Checkpoint | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        deadline = time.monotonic() + FENCE_WAIT_S
        while not self._may_write():
            if self.fenced or time.monotonic() > deadline:
                raise StoreError(NOT_HELD)
            await asyncio.sleep(0.1)
        if self.fenced:  # the renewal found another worker holding the session
            raise StoreError(NOT_HELD)
        await super().publish(payload, run_id, checkpoint=checkpoint)

    def _deliver(self, seq: int, text: str, event: AnyServerEvent) -> None:
        super()._deliver(seq, text, event)
        self._publisher.publish(self.session_id, seq, text)
