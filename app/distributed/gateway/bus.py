"""A gateway's side of Redis: commands out (with their replies), session events in.

One pub/sub connection carries this gateway's reply channel and the event channels of the sessions it has
clients for. `subscribe()` returns once Redis confirmed the subscription, so a client's replay from the store,
read after it, cannot miss an event published in between. If the connection drops, the gateway subscribes
again and every session's feed catches up from the store.

Commands go out signed (signing.py), each attempt with a new id and its own deadline; replies and events come
in only when signed by a worker of this cluster for this channel: anything else on Redis is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal, Protocol

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from agents.events import ErrorCode
from agents.session.team_session import SessionCommandError
from app.core.metrics import REGISTRY
from app.distributed.bus import (
    PREFIX,
    WORKERS_HASH,
    Command,
    EventNote,
    Reply,
    events_channel,
    lease_key,
    new_command_id,
    reply_channel,
)
from app.distributed.signing import BusSigner, send_command

log = logging.getLogger(__name__)

MAX_PENDING = 10_000  # commands awaiting a worker's reply
WORKER_FORGOTTEN_S = 3600.0  # a worker silent this long is removed from rt:workers
EVENTS_PREFIX = PREFIX + "ev:"

BUS_REFUSED = Counter(
    "research_team_gateway_bus_refused",
    "Replies and events read from Redis without a valid signature of this cluster, dropped.",
    ["kind"],
    registry=REGISTRY,
)
for _kind in ("reply", "event"):
    BUS_REFUSED.labels(_kind)


class EventsListener(Protocol):
    """What a subscribed session's feed must offer: take one event; catch up from the store after an outage."""

    def receive(self, seq: int, text: str) -> None: ...

    def catch_up(self) -> None: ...


class GatewayBus:
    def __init__(self, redis: Redis, gateway_id: str, signer: BusSigner, *, command_timeout_s: float) -> None:
        self._redis = redis
        self._signer = signer
        self.refused = 0  # replies and events dropped for their signature (tests; the metric is per process)
        self.gateway_id = gateway_id
        self._timeout = command_timeout_s
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._listeners: dict[str, EventsListener] = {}  # session id -> its feed
        self._confirmed: dict[str, asyncio.Event] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._subscribe_channel(reply_channel(self.gateway_id))
        self._reader = asyncio.create_task(self._read_forever(), name="gateway-bus-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        for future in self._pending.values():
            future.cancel()

    # ---- commands ---------------------------------------------------------------------------------------
    async def command(self, command: Command) -> dict[str, Any]:
        """Send to the session's worker; its result, or SessionCommandError with the worker's refusal."""
        if len(self._pending) >= MAX_PENDING:
            raise SessionCommandError(ErrorCode.WORKER_UNAVAILABLE, "The server is too busy; try again.")
        command.reply_to = self.gateway_id
        for attempt in (1, 2):
            wait_s = self._timeout if attempt == 1 else self._timeout / 2
            if attempt == 2:  # a new message, not a replay of the first (worker_intake.py)
                command.id = new_command_id()
            command.issued_at = time.time()
            command.deadline = command.issued_at + wait_s
            future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            self._pending[command.id] = future
            holder = await self._redis.get(lease_key(command.session_id))
            try:
                await send_command(self._redis, command, holder, self._signer)
                reply = await asyncio.wait_for(future, wait_s)
            except TimeoutError:
                log.warning(
                    "no reply from a worker",
                    extra={"session_id": command.session_id, "action": command.action, "worker": holder},
                )
                # The holder may have died with our command: once its lease is gone, placement finds a new one.
                if attempt == 1 and await self._redis.get(lease_key(command.session_id)) != holder:
                    continue
                raise SessionCommandError(
                    ErrorCode.WORKER_UNAVAILABLE, "The team's worker did not answer in time; try again."
                ) from None
            finally:
                self._pending.pop(command.id, None)
            if reply.ok:
                return reply.result
            raise SessionCommandError(_code(reply.code), reply.message or "The worker refused the command.")
        raise AssertionError("unreachable")

    async def live_workers(self, max_age_s: float) -> int:
        """Workers whose heartbeat is younger than `max_age_s` (/health). A worker that died without a clean
        stop leaves its entry: entries silent for an hour are removed, so the hash does not grow with crashes."""
        beats = await self._redis.hgetall(WORKERS_HASH)  # type: ignore[misc]  # redis-py: one stub, sync|async
        now = time.time()
        gone = [worker for worker, beat in beats.items() if now - float(beat) > WORKER_FORGOTTEN_S]
        if gone:
            await self._redis.hdel(WORKERS_HASH, *gone)  # type: ignore[misc]  # as above
        return sum(1 for beat in beats.values() if now - float(beat) < max_age_s)

    # ---- events -----------------------------------------------------------------------------------------
    async def subscribe(self, session_id: str, listener: EventsListener) -> None:
        self._listeners[session_id] = listener
        await self._subscribe_channel(events_channel(session_id))

    async def unsubscribe(self, session_id: str) -> None:
        if self._listeners.pop(session_id, None) is not None and self._pubsub is not None:
            await self._pubsub.unsubscribe(events_channel(session_id))

    async def _subscribe_channel(self, channel: str) -> None:
        assert self._pubsub is not None
        confirmed = self._confirmed.setdefault(channel, asyncio.Event())
        await self._pubsub.subscribe(channel)
        if self._reader is not None:  # the reader sees the confirmation; before it runs, reading is ours
            await asyncio.wait_for(confirmed.wait(), self._timeout)
        self._confirmed.pop(channel, None)

    async def _read_forever(self) -> None:
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: subscribe again, then every feed reads what it missed
                log.exception("gateway bus connection lost; reconnecting")
                await asyncio.sleep(0.5)
                await self._resubscribe()

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            message = await self._pubsub.get_message(timeout=5.0)
            if message is None:
                continue
            kind, channel = message.get("type"), str(message.get("channel"))
            if kind == "subscribe":
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
            elif kind == "message":
                self._dispatch(channel, str(message["data"]))

    def _dispatch(self, channel: str, data: str) -> None:
        kind: Literal["event", "reply"] = "event" if channel.startswith(EVENTS_PREFIX) else "reply"
        payload = self._signer.open(kind, channel, data)
        if payload is None:
            self.refused += 1
            BUS_REFUSED.labels(kind).inc()
            if self.refused % 100 == 1:
                log.warning("dropped an unsigned or forged message from Redis", extra={"kind": kind})
            return
        if kind == "event":
            listener = self._listeners.get(channel[len(EVENTS_PREFIX) :])
            if listener is not None:
                note = EventNote.model_validate_json(payload)
                listener.receive(note.seq, note.text)
            return
        reply = Reply.model_validate_json(payload)
        future = self._pending.get(reply.id)
        if future is not None and not future.done():
            future.set_result(reply)

    async def _resubscribe(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        self._pubsub = self._redis.pubsub()
        channels = [reply_channel(self.gateway_id), *(events_channel(s) for s in self._listeners)]
        await self._pubsub.subscribe(*channels)
        for listener in self._listeners.values():
            listener.catch_up()


def _code(value: str | None) -> ErrorCode:
    try:
        return ErrorCode(value or ErrorCode.INTERNAL_ERROR.value)
    except ValueError:
        return ErrorCode.INTERNAL_ERROR
