"""A gateway's side of Redis: commands out (with their replies), session events in.

One pub/sub connection carries this gateway's reply channel and the event channels of the sessions it has
clients for. `subscribe()` returns once Redis confirmed the subscription, so a client's replay from the store,
read after it, cannot miss an event published in between. If the connection drops (Redis restarted, or is
away), the gateway tries again with capped backoff, subscribes again to everything, waits for Redis to confirm,
and then every session's feed catches up from the store. A feed that has heard nothing for QUIET_S checks the
store on its own (then less and less often while it stays quiet): a publication lost without the connection
dropping (its worker's publisher gave up) is not lost for its clients.

A command in flight while Redis went away may or may not have reached its worker: it is answered with
worker_unavailable ("try again"), never sent a second time behind the client's back.

Commands go out signed (signing.py), each attempt with a new id and its own deadline; replies and events come
in only when signed by a worker of this cluster for this channel: anything else on Redis is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Literal, Protocol

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

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
from app.distributed.outage import RedisLink
from app.distributed.signing import BusSigner, send_command

log = logging.getLogger(__name__)

MAX_PENDING = 10_000  # commands awaiting a worker's reply
WORKER_FORGOTTEN_S = 3600.0  # a worker silent this long is removed from rt:workers
EVENTS_PREFIX = PREFIX + "ev:"
QUIET_S = 10.0  # a feed that heard nothing this long checks the store; then after 20 s, 40 s, ... up to QUIET_MAX_S
QUIET_MAX_S = 300.0
REDIS_AWAY = "The cluster's Redis was unreachable while this command was in flight; try again."

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
        self._watch: asyncio.Task[None] | None = None
        self._quiet: dict[str, tuple[float, float]] = {}  # session id -> (when to check the store, then in how long)
        self.link = RedisLink("gateway")

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._subscribe_channel(reply_channel(self.gateway_id))
        self._reader = asyncio.create_task(self._read_forever(), name="gateway-bus-reader")
        self._watch = asyncio.create_task(self._watch_quiet_feeds(), name="gateway-quiet-feeds")

    async def stop(self) -> None:
        for task in (self._reader, self._watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
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
            outages = self.link.outages
            holder = None
            try:
                holder = await self._redis.get(lease_key(command.session_id))
                await send_command(self._redis, command, holder, self._signer)
                reply = await asyncio.wait_for(future, wait_s)
            except RedisError:  # not sent, or perhaps sent: the client decides whether to try again
                raise SessionCommandError(ErrorCode.WORKER_UNAVAILABLE, REDIS_AWAY) from None
            except TimeoutError:
                if self.link.down or self.link.outages != outages:  # its reply (or the command) went with Redis
                    raise SessionCommandError(ErrorCode.WORKER_UNAVAILABLE, REDIS_AWAY) from None
                log.warning(
                    "no reply from a worker",
                    extra={"session_id": command.session_id, "action": command.action, "worker": holder},
                )
                # The holder may have died with our command: once its lease is gone, placement finds a new one.
                if attempt == 1 and await self._holder_changed(command.session_id, holder):
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

    async def _holder_changed(self, session_id: str, holder: str | None) -> bool:
        try:
            return bool(await self._redis.get(lease_key(session_id)) != holder)
        except RedisError:
            raise SessionCommandError(ErrorCode.WORKER_UNAVAILABLE, REDIS_AWAY) from None

    def redis_outage(self) -> str | None:
        """Why Redis is unreachable from this gateway now (/health), or None."""
        return self.link.reason()

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
        self._heard(session_id)
        await self._subscribe_channel(events_channel(session_id))

    async def unsubscribe(self, session_id: str) -> None:
        self._quiet.pop(session_id, None)
        if self._listeners.pop(session_id, None) is not None and self._pubsub is not None:
            with contextlib.suppress(RedisError):  # Redis away: the subscription went with the connection
                await self._pubsub.unsubscribe(events_channel(session_id))

    async def _subscribe_channel(self, channel: str) -> None:
        assert self._pubsub is not None
        confirmed = self._confirmed.setdefault(channel, asyncio.Event())
        await self._pubsub.subscribe(channel)
        if self._reader is not None:  # the reader sees the confirmation; before it runs, reading is ours
            await asyncio.wait_for(confirmed.wait(), self._timeout)
        self._confirmed.pop(channel, None)

    async def _read_forever(self) -> None:
        failures = 0
        while True:
            try:
                if failures:  # after a drop: everything again, confirmed, then every feed reads what it missed
                    await self._resubscribe()
                    self.link.ok()
                    failures = 0
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: logged once per outage, retried with backoff
                self.link.failed("the gateway's subscriptions", exc)
                self._fail_pending()
                failures += 1
                await self.link.wait(failures)

    def _fail_pending(self) -> None:
        """Commands awaiting a reply when Redis went away: their replies went with it (or will never come)."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SessionCommandError(ErrorCode.WORKER_UNAVAILABLE, REDIS_AWAY))

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            message = await self._pubsub.get_message(timeout=5.0)
            if message is not None:
                self._take(message)

    def _take(self, message: dict[str, Any]) -> str | None:
        """Dispatch one pub/sub message; the channel when it confirms a subscription."""
        kind, channel = message.get("type"), str(message.get("channel"))
        if kind == "subscribe":
            event = self._confirmed.get(channel)
            if event is not None:
                event.set()
            return channel
        if kind == "message":
            self._dispatch(channel, str(message["data"]))
        return None

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
            session_id = channel[len(EVENTS_PREFIX) :]
            listener = self._listeners.get(session_id)
            if listener is not None:
                self._heard(session_id)
                note = EventNote.model_validate_json(payload)
                listener.receive(note.seq, note.text)
            return
        reply = Reply.model_validate_json(payload)
        future = self._pending.get(reply.id)
        if future is not None and not future.done():
            future.set_result(reply)

    async def _resubscribe(self) -> None:
        old, self._pubsub = self._pubsub, self._redis.pubsub()
        if old is not None:
            with contextlib.suppress(Exception):
                await old.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        waiting = {reply_channel(self.gateway_id), *(events_channel(s) for s in self._listeners)}
        await self._pubsub.subscribe(*waiting)
        deadline = time.monotonic() + self._timeout
        while waiting:  # confirmed: nothing published from now on is missed, so the store holds all the rest
            if time.monotonic() > deadline:
                raise TimeoutError("Redis did not confirm the subscriptions")
            message = await self._pubsub.get_message(timeout=1.0)
            if message is not None:
                waiting.discard(self._take(message) or "")
        for session_id, listener in list(self._listeners.items()):
            self._heard(session_id)
            listener.catch_up()

    # ---- quiet feeds --------------------------------------------------------------------------------------
    def _heard(self, session_id: str) -> None:
        self._quiet[session_id] = (time.monotonic() + QUIET_S, QUIET_S)

    async def _watch_quiet_feeds(self) -> None:
        while True:
            await asyncio.sleep(QUIET_S / 4)
            now = time.monotonic()
            for session_id, (due, every) in list(self._quiet.items()):
                listener = self._listeners.get(session_id)
                if listener is not None and now >= due:
                    self._quiet[session_id] = (now + min(2 * every, QUIET_MAX_S), min(2 * every, QUIET_MAX_S))
                    listener.catch_up()


def _code(value: str | None) -> ErrorCode:
    try:
        return ErrorCode(value or ErrorCode.INTERNAL_ERROR.value)
    except ValueError:
        return ErrorCode.INTERNAL_ERROR
