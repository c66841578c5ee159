"""How a TeamSession's events leave it: stored (then sent) by the sink, each with the session's checkpoint when
checkpoints are on (workers), and kept as owed when the store refused one that must reach the clients.

Which events carry a checkpoint: every one that changes what another worker would need to carry on (a run's
start, each chat message, pause and resume, a follow-up, the run's end, a reset). Not an error, not "Ready."
after a run (its end stored that state), not an agent's inner events (a resumed turn starts over anyway). The
team's memory goes with the first checkpoint after it changed (agents/session/checkpoint.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NamedTuple

from agents.events import RunError, RunFinished, SessionPayload, SessionReset, StateChanged, TeamMessage
from agents.models.metering import UsageMeter
from agents.session.checkpoint import Checkpoint, session_checkpoint
from agents.session.errors import EventNotStored
from agents.session.event_sink import EventSink
from agents.session.owed_events import OwedEvents
from agents.session.run_state import Run, SessionState
from agents.team.build import TeamControls

log = logging.getLogger(__name__)

MAX_OWED_EVENTS = 32


class SessionView(NamedTuple):
    """What a checkpoint is made of, read from the session when an event is emitted."""

    memory: Mapping[str, Any] | None
    followups: Iterable[str]
    run: Run | None
    state: SessionState
    controls: TeamControls | None
    meter: UsageMeter


class SessionOutlet:
    def __init__(
        self,
        sink: EventSink,
        spawn: Callable[[Awaitable[None]], asyncio.Future[None]],
        view: Callable[[], SessionView],
        *,
        checkpoints: bool,
    ) -> None:
        self._sink = sink
        self._view = view
        self.checkpoints = checkpoints
        self.memory_changed = True  # the next checkpoint stores the memory (it changed, or never was stored)
        self._owed = OwedEvents(self.emit, spawn, limit=MAX_OWED_EVENTS)

    async def emit(self, payload: SessionPayload, run_id: str | None) -> None:
        """Store, then send; EventNotStored when the store refused it (so it was not sent either)."""
        try:
            checkpoint = self._checkpoint(payload)
            if checkpoint is None:
                await self._sink(payload, run_id)
            else:
                await self._sink(payload, run_id, checkpoint=checkpoint)
                if checkpoint.memory is not None:
                    self.memory_changed = False
        except Exception as exc:
            raise EventNotStored(f"{type(exc).__name__}: {exc}") from exc

    async def emit_quietly(self, payload: SessionPayload, run_id: str | None, *, owed: bool = False) -> None:
        """Emit an event whose failure must not stop a transition; `owed` ones are delivered once the store
        takes them again."""
        try:
            await self.emit(payload, run_id)
        except EventNotStored as exc:
            log.error("event not stored (%s): %s", type(payload).__name__, exc)
            if owed:
                self._owed.add(payload, run_id)

    def stop(self) -> None:
        """The session is closing: owed events are dropped."""
        self._owed.stop()

    def _checkpoint(self, payload: SessionPayload) -> Checkpoint | None:
        if not self.checkpoints or isinstance(payload, RunError):
            return None
        if isinstance(payload, StateChanged) and payload.state == "idle":
            return None
        view = self._view()
        if isinstance(payload, TeamMessage):
            if view.run is None or not view.run.checkpoint_due:
                return None
            view.run.checkpoint_due = False
        run = None if isinstance(payload, RunFinished | SessionReset) else view.run
        return session_checkpoint(
            view.memory, self.memory_changed, view.followups, run, view.state, view.controls, view.meter
        )
