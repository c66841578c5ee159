"""A gateway's handle on a session hosted by a worker: its commands go over Redis, its events come back.

`RemoteEventLog` is the session's event log as a gateway sees it: the same subscribe/replay/reply interface as
the embedded one (app/store/event_log.py), fed by the worker's publications. Events are delivered in seq order, each
once: an event already delivered is dropped, and a gap (a publication missed while Redis or the subscription
was away) is filled from the store before anything newer is delivered; the store has it, since events are
stored before they are published.

`RemoteSession` answers what routes and narrators ask synchronously (state, run id, status) from a mirror kept
by those same events, and sends commands to the worker that hosts the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from agents.events import RunResumed, SessionPayload, SessionReset, StateChanged
from agents.models.budget import RunBudget
from agents.session.checkpoint import Checkpoint
from agents.session.team_session import SessionState
from app.core.protocol import (
    AnyServerEvent,
    RunFinishedEvent,
    RunResumedEvent,
    RunStartedEvent,
    SystemEvent,
    TeamEvent,
    parse_event,
)
from app.core.redaction import Redactor
from app.distributed.bus import Action, Command
from app.distributed.gateway.bus import GatewayBus
from app.store.event_log import SessionEventLog
from app.store.run_store import RunStore

log = logging.getLogger(__name__)

MAX_HELD = 10_000  # events held while a gap is filled; past it they are dropped and read from the store instead


class RemoteEventLog(SessionEventLog):
    def __init__(
        self,
        session_id: str,
        store: RunStore,
        redactor: Redactor,
        *,
        owner: str,
        on_event: Callable[[AnyServerEvent], None],
    ) -> None:
        super().__init__(session_id, store, redactor, owner=owner)
        self._on_event = on_event
        self._held: list[tuple[int, str]] = []
        self._filling: asyncio.Task[None] | None = None
        self.filled = 0  # events read from the store to close gaps (tests, metrics)

    def start_at(self, last_seq: int) -> None:
        self._seq = max(self._seq, last_seq)

    def publish(
        self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> asyncio.Future[None]:
        raise RuntimeError("a gateway does not publish session events; its worker does")

    def receive(self, seq: int, text: str) -> None:
        if self._filling is not None:
            if len(self._held) < MAX_HELD:
                self._held.append((seq, text))
            return
        if seq <= self._seq:
            return
        if seq == self._seq + 1:
            self._accept(seq, text)
            return
        self._held.append((seq, text))
        self.catch_up()

    def catch_up(self) -> None:
        if self._filling is None:
            self._filling = asyncio.create_task(self._fill(), name=f"feed-fill-{self.session_id}")

    async def _fill(self) -> None:
        try:
            async for seq, text in self.stored_after(self._seq):
                if seq == self._seq + 1:
                    self.filled += 1
                    self._accept(seq, text)
        except Exception:
            log.exception("filling a gap from the store failed", extra={"session_id": self.session_id})
        finally:
            held, self._held = sorted(self._held), []
            self._filling = None
            for seq, text in held:
                if seq == self._seq + 1:
                    self._accept(seq, text)

    def _accept(self, seq: int, text: str) -> None:
        self._seq = seq
        try:
            event = parse_event(text)
        except ValueError:
            log.error("an unreadable event was skipped", extra={"session_id": self.session_id, "seq": seq})
            return
        self._on_event(event)
        self._deliver(seq, text, event)


class RemoteSession:
    """TeamSession's interface (agents/session/team_session.py) for a session that lives on a worker."""

    def __init__(
        self, session_id: str, owner: str, bus: GatewayBus, *, available: bool, status: dict[str, Any] | None = None
    ) -> None:
        self.session_id = session_id
        self._owner = owner
        self._bus = bus
        self._available = available
        status = status or {}
        self._state = SessionState(status.get("state") or "idle")
        self._run_id: str | None = status.get("run_id")
        self._task: str | None = status.get("task")
        self._started = time.monotonic() - float(status.get("elapsed_s") or 0)
        self._messages = int(status.get("messages") or 0)
        self._last_speaker: str | None = status.get("last_speaker")
        self._followups = int(status.get("queued_followups") or 0)
        self._usage: dict[str, Any] = status.get("usage") or {}
        self._idle = asyncio.Event()
        if self._run_id is None:
            self._idle.set()
        self._finished: deque[str] = deque(maxlen=16)  # runs seen ending (a reply can come after their end)

    # ---- what the mirror answers -------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def available(self) -> bool:
        return self._available

    def status(self) -> dict[str, Any]:
        running = self._run_id is not None
        return {
            "state": self._state.value,
            "run_id": self._run_id,
            "task": self._task if running else None,
            "elapsed_s": round(time.monotonic() - self._started, 3) if running else None,
            "messages": self._messages if running else 0,
            "last_speaker": self._last_speaker if running else None,
            "queued_followups": self._followups,
            "usage": self._usage or {"model_calls": 0, "prompt_tokens": 0, "completion_tokens": 0},
        }

    async def wait_idle(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout)

    def observe(self, event: AnyServerEvent) -> None:
        """Keep the mirror in step with the session's events (the worker is the truth; this follows it)."""
        if isinstance(event, RunStartedEvent | RunResumedEvent):
            self._run_id, self._task = event.run_id, event.data.task
            self._messages, self._last_speaker = 0, None
            self._started = time.monotonic()
            self._state = SessionState.RUNNING
            if isinstance(event.data, RunResumed):
                self._state = SessionState(event.data.state)
            else:
                self._followups = max(0, self._followups - 1) if event.data.followup else self._followups
            self._idle.clear()
        elif isinstance(event, TeamEvent) and event.run_id == self._run_id:
            self._messages += 1
            self._last_speaker = str(event.data.get("source") or "") or self._last_speaker
        elif isinstance(event, RunFinishedEvent):
            if event.run_id is not None:
                self._finished.append(event.run_id)
            if event.run_id != self._run_id:
                return
            self._run_id = None
            self._usage = {k: self._usage.get(k, 0) + v for k, v in event.data.usage.model_dump().items()}
        elif isinstance(event, SystemEvent) and isinstance(event.data, StateChanged | SessionReset):
            self._state = SessionState(event.data.state)
            if isinstance(event.data, SessionReset):
                self._run_id, self._followups = None, 0
            if self._state == SessionState.IDLE:
                self._run_id = None
                self._idle.set()
        elif event.type == "followup_queued":
            self._followups += 1

    # ---- commands ----------------------------------------------------------------------------------------
    async def _call(self, action: Action, **fields: Any) -> dict[str, Any]:
        command = Command(session_id=self.session_id, owner=self._owner, action=action, reply_to="", **fields)
        return await self._bus.command(command)

    async def submit_task(self, text: str, budget: RunBudget | None = None) -> dict[str, Any]:
        result = await self._call("task", text=text, budget=budget.as_dict() if budget is not None else None)
        started = result.get("run_id") if result.get("status") == "started" else None
        if started and started != self._run_id and started not in self._finished:
            # The reply may come before the run's first events: the mirror knows of the run from now on.
            self._run_id, self._task, self._state = str(started), text, SessionState.RUNNING
            self._messages, self._last_speaker, self._started = 0, None, time.monotonic()
            self._idle.clear()
        return result

    async def pause(self) -> dict[str, Any]:
        return await self._call("pause")

    async def resume(self) -> dict[str, Any]:
        return await self._call("resume")

    async def cancel(self) -> dict[str, Any]:
        return await self._call("cancel")

    async def reset(self) -> dict[str, Any]:
        return await self._call("reset")

    async def close(self) -> None:
        """Nothing to free here: the session lives on its worker, which closes it when it is idle."""

    async def fetch_status(self) -> dict[str, Any]:
        """The worker's own answer (exact), unlike status() which reads the mirror."""
        result = await self._call("open")
        status: dict[str, Any] = result["status"]
        return status
