"""A worker: hosts TeamSessions for any gateway, takes over the sessions of workers that died.

- Commands arrive on two streams: placement (`rt:place`, shared by every worker through a consumer group) for
  sessions nobody holds, and the worker's own (`rt:w:<id>`) for the sessions it holds. A command for a session
  held elsewhere is forwarded to its holder (at most MAX_HOPS times).
- Hosting a session = holding its lease. A session is built from the store: seq continues from the last stored
  event, and its checkpoint (agents/session/checkpoint.py) gives back the team's memory, queued follow-ups and the
  active run, which carries on with a `run_resumed` event.
- The reaper looks for runs the store says are active and whose session no worker holds (its worker died, its
  lease expired) and claims them; so does a worker that starts, which covers a whole cluster restarting.
- Commands of one session are handled in arrival order; different sessions' commands run concurrently.
- Nothing is trusted for being on Redis (worker_intake.py): a command must be signed with the cluster's secret,
  new and in its validity window; its owner must be the session's owner in the store; a task's budget is
  clamped to this server's RUN_MAX_*. Replies are signed for the gateway they go to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from agents.events import ErrorCode
from agents.models.budget import RunBudget
from agents.session.autogen_events import AgentMessage
from agents.session.checkpoint import SessionCheckpoint, read_checkpoint, restored_messages
from agents.session.team_session import SessionCommandError, SessionState, TeamSession
from app.core.redaction import Redactor
from app.core.settings import TaskBudgetLike
from app.distributed.bus import (
    MAX_HOPS,
    PLACEMENT_GROUP,
    PLACEMENT_STREAM,
    Command,
    Reply,
    reply_channel,
    worker_stream,
)
from app.distributed.leases import LeaseKeeper
from app.distributed.loop_lag import LoopLag
from app.distributed.outage import RedisLink
from app.distributed.signing import BusSigner, send_command
from app.distributed.worker.intake import CommandIntake
from app.distributed.worker.publisher import EventPublisher, WorkerEventLog
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore

log = logging.getLogger(__name__)

SessionBuilder = Callable[[str, SessionEventLog], Awaitable[TeamSession]]
BudgetClamp = Callable[[TaskBudgetLike | None], RunBudget]  # Settings.run_budget: the server's, narrowed by a task's
MAX_INFLIGHT = 10_000  # commands being handled at once; past it a command is refused as busy


@dataclass
class Hosted:
    session: TeamSession
    log: WorkerEventLog
    last_command: float = field(default_factory=time.monotonic)


class Worker:
    def __init__(
        self,
        worker_id: str,
        redis: Redis,
        redis_url: str,
        store: RunStore,
        redactor: Redactor,
        build: SessionBuilder,
        *,
        lease_ttl_s: float,
        idle_s: float,
        max_sessions: int,
        signer: BusSigner,
        run_budget: BudgetClamp,
    ) -> None:
        self.worker_id = worker_id
        self._redis = redis
        self._store = store
        self._redactor = redactor
        self._build = build
        self._idle_s = idle_s
        self._max_sessions = max_sessions
        self.link = RedisLink("worker")
        self.leases = LeaseKeeper(redis, redis_url, worker_id, lease_ttl_s, self._lost, link=self.link)
        self._signer = signer
        self._run_budget = run_budget
        self.intake = CommandIntake(signer, redis)
        self.publisher = EventPublisher(redis, signer, link=self.link)
        self.lag = LoopLag()
        self.hosted: dict[str, Hosted] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._inflight = 0
        self._tails: dict[str, asyncio.Task[None]] = {}  # each session's last command: the next one waits for it
        self._lease_ttl_s = lease_ttl_s
        self._tasks: list[asyncio.Task[None]] = []
        self.resumed_runs = 0

    # ---- lifecycle --------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._create_group()
        self.leases.start()  # announces this worker before the first command
        self.publisher.start()
        self.lag.start()
        for name, loop in (("commands", self._commands), ("reaper", self._reap_forever), ("sweeper", self._sweep)):
            self._tasks.append(asyncio.create_task(loop(), name=f"worker-{name}"))

    async def stop(self) -> None:
        """A clean stop hands the sessions over rather than ending their runs: each is stopped here without
        writing anything more, its lease given back, and another worker's reaper resumes its run from the last
        checkpoint (a rolling restart loses no run). Without another worker they resume when one starts."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.lag.stop()
        for hosted in self.hosted.values():
            hosted.log.fenced = True
        await asyncio.gather(*(h.session.close() for h in self.hosted.values()), return_exceptions=True)
        self.hosted.clear()
        await self.publisher.stop()
        with contextlib.suppress(RedisError):  # Redis away: the leases expire and the stream goes on their own
            await self.leases.stop()
            await self._redis.delete(worker_stream(self.worker_id))

    @property
    def store_pending(self) -> int:
        return self._store.pending

    # ---- commands ---------------------------------------------------------------------------------------
    async def _commands(self) -> None:
        """Placement and the worker's own stream are read by two loops, each blocking on its own connection."""
        await asyncio.gather(self._read_placement(), self._read_own())

    async def _create_group(self) -> None:
        """The placement group (and its stream): at start, and again when a Redis that restarted empty lost it."""
        try:
            await self._redis.xgroup_create(PLACEMENT_STREAM, PLACEMENT_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_placement(self) -> None:
        """New sessions are taken only while this worker keeps up (its event loop is not lagging): an
        overloaded worker leaves them to the others, or to itself once it has caught up."""
        failures = 0
        while True:
            await self.lag.keeping_up()
            try:
                placed = await self._redis.xreadgroup(
                    PLACEMENT_GROUP, self.worker_id, {PLACEMENT_STREAM: ">"}, count=100, block=5000
                )
                self.link.ok()
                failures = 0
                for _stream, entries in placed or []:
                    for _entry_id, fields in entries:
                        self._accept(fields)
                    await self._redis.xack(PLACEMENT_STREAM, PLACEMENT_GROUP, *(entry_id for entry_id, _ in entries))
            except asyncio.CancelledError:
                raise
            except RedisError as exc:  # Redis away: once per outage in the log, then retries with backoff
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):  # Redis restarted empty
                    log.warning("the placement group is gone (Redis restarted empty); creating it again")
                    with contextlib.suppress(RedisError):
                        await self._create_group()
                    continue
                self.link.failed("reading placement commands", exc)
                await self.link.wait(failures := failures + 1)

    async def _read_own(self) -> None:
        own, last = worker_stream(self.worker_id), "0"  # the stream is this worker's alone (a fresh id): all of it
        failures = 0
        while True:
            try:
                mine = await self._redis.xread({own: last}, count=100, block=5000)
                self.link.ok()
                failures = 0
                for _stream, entries in mine or []:
                    for entry_id, fields in entries:
                        last = entry_id
                        self._accept(fields)
            except asyncio.CancelledError:
                raise
            except RedisError as exc:  # Redis away: once per outage in the log, then retries with backoff
                self.link.failed("reading own commands", exc)
                await self.link.wait(failures := failures + 1)

    def _accept(self, fields: dict[str, str]) -> None:
        # Unsigned, forged, malformed, replayed or past its deadline (its gateway has already told the client it
        # failed: doing it now would surprise them): dropped unanswered, counted (worker_intake.py).
        command = self.intake.check(fields)
        if command is None:
            return
        if self._inflight >= MAX_INFLIGHT:
            asyncio.create_task(
                self._reply(
                    command,
                    Reply(
                        id=command.id, ok=False, code="worker_unavailable", message="The worker is too busy; try again."
                    ),
                )
            )
            return
        self._inflight += 1
        previous = self._tails.get(command.session_id)
        task = asyncio.create_task(self._handle_after(previous, command), name=f"command-{command.action}")
        self._tails[command.session_id] = task
        task.add_done_callback(lambda done: self._forget_tail(command.session_id, done))

    def _forget_tail(self, session_id: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(session_id) is task:
            del self._tails[session_id]

    async def _handle_after(self, previous: asyncio.Task[None] | None, command: Command) -> None:
        try:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            if not await self.intake.first_in_cluster(command):
                return  # another worker took this very command: a copy written into Redis
            await self._reply(command, await self._handle(command))
        except Exception as exc:  # one command's failure is its gateway's error, nothing more
            log.exception("command %s failed", command.action)
            await self._reply(command, Reply(id=command.id, ok=False, code="internal_error", message=str(exc)[:200]))
        finally:
            self._inflight -= 1

    async def _handle(self, command: Command) -> Reply | None:
        if not await self._owned_by(command):
            self.intake.count("wrong_owner")
            return Reply(id=command.id, ok=False, code=ErrorCode.NOT_FOUND.value, message="No such session.")
        hosted = await self.host(command.session_id, command.owner)
        if hosted is None:
            holder = await self.leases.holder(command.session_id)
            if command.hops >= MAX_HOPS or holder is None:
                return Reply(
                    id=command.id,
                    ok=False,
                    code=ErrorCode.WORKER_UNAVAILABLE.value,
                    message="No worker could take this session now; try again.",
                )
            forward = command.model_copy(update={"hops": command.hops + 1})
            await send_command(self._redis, forward, holder, self._signer)
            return None  # the holder replies
        hosted.last_command = time.monotonic()
        try:
            return Reply(id=command.id, ok=True, result=await self._apply(hosted, command))
        except SessionCommandError as refused:
            return Reply(id=command.id, ok=False, code=refused.code.value, message=refused.message)

    async def _owned_by(self, command: Command) -> bool:
        """The store's word on the session's owner (a hosted session's was checked when it was opened)."""
        hosted = self.hosted.get(command.session_id)
        if hosted is not None:
            return hosted.log.owner == command.owner
        return await self._store.session_owner(command.session_id) == command.owner

    def _budget(self, asked: dict[str, Any] | None) -> RunBudget | None:
        """A task's budget, never more than this server's RUN_MAX_* (a gateway's settings may differ, or lie)."""
        if asked is None:
            return None
        try:
            return self._run_budget(
                RunBudget(**{k: asked.get(k) for k in ("max_model_calls", "max_tokens", "max_usd")})
            )
        except TypeError:  # not numbers
            raise SessionCommandError(ErrorCode.INVALID_MESSAGE, "The task's budget is not readable.") from None

    async def _apply(self, hosted: Hosted, command: Command) -> dict[str, Any]:
        session = hosted.session
        if command.action == "task":
            return await session.submit_task(command.text or "", self._budget(command.budget))
        if command.action in ("pause", "resume", "cancel", "reset"):
            result: dict[str, Any] = await getattr(session, command.action)()
            return result
        return {
            "state": session.state.value,
            "available": session.available,
            "last_seq": hosted.log.last_seq,
            "status": session.status(),
        }

    async def _reply(self, command: Command, reply: Reply | None) -> None:
        if reply is not None:
            channel = reply_channel(command.reply_to)
            try:
                await self._redis.publish(channel, self._signer.seal("reply", channel, reply.model_dump_json()))
            except RedisError as exc:  # lost: its gateway answers worker_unavailable (retryable) when none comes
                self.link.failed("replying", exc)

    # ---- hosting ----------------------------------------------------------------------------------------
    async def host(self, session_id: str, owner: str) -> Hosted | None:
        """The session, hosted here (claimed and restored if needed), or None when another worker holds it."""
        hosted = self.hosted.get(session_id)
        if hosted is not None:
            return hosted
        lock = self._opening.setdefault(session_id, asyncio.Lock())
        async with lock:
            hosted = self.hosted.get(session_id)
            if hosted is None and len(self.hosted) < self._max_sessions and await self.leases.claim(session_id):
                try:
                    hosted = await self._open(session_id, owner)
                except Exception:
                    await self.leases.release(session_id)
                    raise
        self._opening.pop(session_id, None)
        return hosted

    async def _open(self, session_id: str, owner: str) -> Hosted:
        last_seq = await self._store.max_seq(session_id)
        may_write = lambda: self.leases.valid() and self.leases.holds(session_id)  # noqa: E731 - the fence
        event_log = WorkerEventLog(
            session_id, self._store, self._redactor, self.publisher, may_write, last_seq=last_seq, owner=owner
        )
        session = await self._build(session_id, event_log)
        try:
            saved = await self._store.load_checkpoint(session_id)
            if saved is not None:
                covered, stored = saved
                checkpoint = read_checkpoint(stored.state, stored.memory)
                messages = await self._run_messages(checkpoint, covered)
                if await session.restore(checkpoint, covered, messages) is not None:
                    self.resumed_runs += 1
                    log.info("resumed a session", extra={"session_id": session_id, "from_seq": covered})
        except Exception:
            event_log.fenced = True  # not hosted after all: nothing of it may be written
            await session.close()
            raise
        hosted = Hosted(session, event_log)
        self.hosted[session_id] = hosted
        return hosted

    async def _run_messages(self, checkpoint: SessionCheckpoint, covered: int) -> list[AgentMessage]:
        """The checkpointed run's messages so far, from its stored team events up to the checkpoint."""
        if checkpoint.run is None:
            return []
        events = await self._store.run_events(checkpoint.run.run_id, limit=10_000)
        dumps = [e["data"] for e in events if e.get("source") == "team" and int(e["seq"]) <= covered]
        return restored_messages(dumps)

    async def _lost(self, session_id: str) -> None:
        """Another worker may own this session now: stop it here without a word."""
        hosted = self.hosted.pop(session_id, None)
        if hosted is not None:
            hosted.log.fenced = True
            await hosted.session.close()

    async def _close(self, session_id: str) -> None:
        hosted = self.hosted.pop(session_id, None)
        if hosted is not None:
            await hosted.session.close()
            await self.leases.release(session_id)

    # ---- reaper and sweeper -----------------------------------------------------------------------------
    async def _reap_forever(self) -> None:
        every = max(0.2, self._lease_ttl_s / 2)
        while True:
            try:
                # After an outage, live workers take their leases back first (their heartbeat): a session no
                # worker holds a lease after Redis came back is orphaned only once a lease has passed.
                if self.link.up_for() > self._lease_ttl_s:
                    await self.reap()
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                self.link.failed("the reaper", exc)
            except Exception:  # the store away: next round
                log.exception("reaper round failed")
            await asyncio.sleep(every)

    async def reap(self) -> int:
        """Claim sessions with an active run that no worker holds; returns how many this worker took."""
        owners = {r["session_id"]: r["owner"] for r in await self._store.active_runs()}
        candidates = [s for s in owners if s not in self.hosted]
        taken = 0
        for session_id, holder in zip(candidates, await self.leases.holders(candidates), strict=True):
            if holder is None and await self.host(session_id, owners[session_id]) is not None:
                taken += 1
        return taken

    async def _sweep(self) -> None:
        every = max(0.5, min(30.0, self._idle_s / 4))
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for session_id, hosted in list(self.hosted.items()):
                idle = hosted.session.state == SessionState.IDLE and now - hosted.last_command > self._idle_s
                if idle and session_id not in self._tails:
                    await self._close(session_id)
