"""TeamSession: one team per session, with runs that can be paused, resumed, cancelled and followed up.

One owner for the session's state: the session lock. Every transition happens while holding it: the commands
(task, pause, resume, cancel, reset, close) and the ends of a run that the driver task reaches (settle, finish,
fail). A lock rather than a command queue because every command needs an immediate answer (started, queued,
refused) and the lock gives that without another task to keep alive; the driver takes it only at a run's end,
so a command waits at most for one end of run. Team events are emitted without the lock (they change no
state); a run marked closed emits nothing more, so nothing of a run follows its run_finished.

AutoGen 0.7.5's pitfalls, and how each is avoided (docs/architecture.md says more): pause is graceful
(ExternalTermination; resume calls run_stream() without a task); cancel is announced at once and the next task
runs on a team rebuilt from the state saved after the last finished run, while the stuck run task is reaped in
the background (stopped by force after `cancel_grace_s`); the team's state is saved, and the next follow-up
picked, before a finished run is released; a store failure ends the run as `error`, delivered once the store
takes it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from autogen_agentchat.teams import SelectorGroupChat
from autogen_core import CancellationToken

from agents.background import BackgroundTasks
from agents.events import (
    ErrorCode,
    FollowupQueued,
    RunError,
    RunStarted,
    SessionReset,
    StateChanged,
)
from agents.models.budget import RunBudget
from agents.models.metering import UsageMeter
from agents.session.autogen_events import AgentMessage
from agents.session.checkpoint import SessionCheckpoint, restore_meter, restore_run, run_resumed
from agents.session.errors import EventNotStored, SessionCommandError, describe_error
from agents.session.event_sink import EventSink
from agents.session.outlet import SessionOutlet, SessionView
from agents.session.run_state import Run, SessionLimits, SessionState, new_run_id, run_finished, status_of
from agents.session.run_stream import stream_run
from agents.session.runtime import reap_cancelled, stop_runtime
from agents.session.team_memory import TeamFactory, TeamMemory
from agents.stop import KEEPS_STATE, StopReason, TerminationLabel, stop_reason_for
from agents.team.build import TeamControls

__all__ = ["SessionCommandError", "SessionLimits", "SessionState", "TeamSession", "describe_error"]
log = logging.getLogger(__name__)

Admission = Callable[[RunBudget], Awaitable[RunBudget]]


class TeamSession:
    def __init__(
        self,
        session_id: str,
        *,
        factory: TeamFactory,
        meter: UsageMeter,
        emit: EventSink,
        limits: SessionLimits = SessionLimits(),
        default_budget: RunBudget | None = None,
        unavailable: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        run_context: Callable[[str], contextvars.Context | None] | None = None,
        checkpoints: bool = False,
        run_slots: asyncio.Semaphore | None = None,
        admit: Admission | None = None,
    ) -> None:
        """`unavailable`: why no model can be called (no API key); tasks are then refused with that message.
        `checkpoints`: store the session's state with its events, so another worker can resume it (workers).
        `run_slots`: shared by the process's sessions, caps the runs at work at once (the others wait their turn).
        `admit`: asked before every run starts (follow-ups too) with its budget; returns the budget to use (the
        owner's limits may narrow it) or raises SessionCommandError (the owner's runs or spending are at their cap)."""
        self.session_id = session_id
        self._meter = meter
        self._limits = limits
        self._default_budget = default_budget or RunBudget()
        self._unavailable = unavailable
        self._on_close = on_close
        self._run_context = run_context  # the context a run's driver starts in (its trace span, app/core/telemetry.py)
        self._run_slots = run_slots
        self._admit = admit
        self._state = SessionState.IDLE
        self._run: Run | None = None
        self._followups: deque[str] = deque()
        self._outlet = SessionOutlet(emit, self._spawn, self._view, checkpoints=checkpoints)
        self._closed = False
        self._lock = asyncio.Lock()
        self._background = BackgroundTasks()
        self._memory = TeamMemory(factory, session_id, self._spawn)
        self._idle = asyncio.Event()
        self._idle.set()

    # ---- queries --------------------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def run_id(self) -> str | None:
        return self._run.run_id if self._run else None

    @property
    def lingering_tasks(self) -> int:
        """Background clean-ups (cancelled run tasks, old runtimes) not finished yet; drops to 0 in seconds."""
        return len(self._background)

    @property
    def available(self) -> bool:
        """False when no model is configured (tasks are refused with the reason)."""
        return self._unavailable is None

    @property
    def meter(self) -> UsageMeter:
        return self._meter

    def status(self) -> dict[str, Any]:
        return status_of(self._state, self._run, len(self._followups), self._meter.total)

    async def fetch_status(self) -> dict[str, Any]:
        """status(), awaitable like a remote session's (app/distributed)."""
        return self.status()

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until no run is active (tests and shutdown use it)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    # ---- commands -------------------------------------------------------------------------------------
    async def submit_task(self, text: str, budget: RunBudget | None = None) -> dict[str, Any]:
        """Start a run, or queue the task as a follow-up when a run is active. `budget`: this task's own
        budget (a follow-up keeps the budget of the run it joins)."""
        if self._unavailable:
            raise SessionCommandError(ErrorCode.NO_MODEL_ACCESS, self._unavailable)
        async with self._lock:
            if self._run is None:
                run = await self._start_run(text, followup=False, budget=budget)
                return {"status": "started", "run_id": run.run_id}
            if len(self._followups) >= self._limits.max_followups:
                raise SessionCommandError(
                    ErrorCode.TOO_MANY_FOLLOWUPS, "Too many follow-ups are queued; wait for the run."
                )
            self._followups.append(text)
            payload = FollowupQueued(text=text, position=len(self._followups), state=self._state.value)
            try:
                await self._outlet.emit(payload, self._run.run_id)
            except EventNotStored:
                self._followups.pop()
                raise SessionCommandError(
                    ErrorCode.STORE_UNAVAILABLE, "The run store is unavailable, so the follow-up was not queued."
                ) from None
            return {"status": "queued", "run_id": self._run.run_id, "position": len(self._followups)}

    async def pause(self) -> dict[str, Any]:
        async with self._lock:
            if self._state in (SessionState.PAUSING, SessionState.PAUSED):
                raise SessionCommandError(ErrorCode.ALREADY_PAUSED, "The run is already paused.")
            controls = self._memory.controls
            if self._state != SessionState.RUNNING or self._run is None or controls is None:
                raise SessionCommandError(ErrorCode.NO_ACTIVE_RUN, "There is no run to pause.")
            controls.pause.set()
            self._state = SessionState.PAUSING
            await self._emit_state("The team will pause after the current step.")
            return {"status": "pausing", "run_id": self._run.run_id}

    async def resume(self) -> dict[str, Any]:
        async with self._lock:
            run = self._run
            if self._state != SessionState.PAUSED or run is None:
                raise SessionCommandError(ErrorCode.NOT_PAUSED, "The run is not paused.")
            self._state = SessionState.RUNNING
            await self._emit_state("Resumed.")
            await self._launch(run, None)
            return {"status": "running", "run_id": run.run_id}

    async def cancel(self) -> dict[str, Any]:
        async with self._lock:
            run = self._run
            if run is None or run.closed:
                raise SessionCommandError(ErrorCode.NO_ACTIVE_RUN, "There is no run to cancel.")
            dropped = list(self._followups)
            self._followups.clear()
            await self._abort(run, StopReason.CANCELLED, dropped_followups=dropped)
            return {"status": "cancelled", "run_id": run.run_id, "dropped_followups": len(dropped)}

    async def reset(self) -> dict[str, Any]:
        """Forget everything: cancel any run, drop follow-ups and the team's memory."""
        async with self._lock:
            self._followups.clear()
            if self._run is not None and not self._run.closed:
                await self._abort(self._run, StopReason.RESET, rebuild=False)
            self._memory.forget()  # built again, empty, by the next task
            self._outlet.memory_changed = True
            await self._outlet.emit_quietly(SessionReset(), None)
            return {"status": "reset"}

    async def close(self) -> None:
        """End the session: stop any run, release resources."""
        async with self._lock:
            self._closed = True
            self._outlet.stop()
            self._followups.clear()
            if self._run is not None and not self._run.closed:
                await self._abort(self._run, StopReason.CLOSED, rebuild=False)
        if self._on_close is not None:
            await self._on_close()
        # The cancelled run's clean-up (reap_cancelled) is ours to finish: never leave it pending at shutdown.
        await self._background.drain(timeout=2 * self._limits.cancel_grace_s + 1)

    async def restore(
        self, checkpoint: SessionCheckpoint, covered_seq: int, messages: list[AgentMessage] | None = None
    ) -> str | None:
        """Carry on from a checkpoint another worker stored (app/distributed): the team's memory, the queued
        follow-ups, and the active run from its last message boundary (told as run_resumed), whose messages so
        far are `messages` (read back from its stored events). Returns the run id."""
        async with self._lock:
            self._memory.snapshot, self._followups = checkpoint.snapshot, deque(checkpoint.followups)
            self._outlet.memory_changed = False
            restore_meter(self._meter, checkpoint.meter)
            if self._unavailable:
                return None
            if checkpoint.run is None:
                if self._memory.snapshot is not None:
                    await self._memory.rebuild()  # a team with the session's memory, for the next task
                if self._followups:
                    await self._start_run(self._followups.popleft(), followup=True)
                return self.run_id
            team, controls = self._memory.ensure()
            run, state = await restore_run(checkpoint, team, controls, messages or [])
            self._run, self._state = run, state
            self._idle.clear()
            await self._outlet.emit_quietly(run_resumed(run, state, covered_seq), run.run_id)
            if state != SessionState.PAUSED:
                await self._launch(run, None if run.team_state is not None else run.task)
                if state == SessionState.PAUSING:
                    controls.pause.set()
            return run.run_id

    # ---- runs (every method below runs with the lock held, except _drive's streaming loop) -------------
    async def _start_run(self, task: str, *, followup: bool, budget: RunBudget | None = None) -> Run:
        if self._admit is not None:
            budget = await self._admit(budget or self._default_budget)
        run = Run(run_id=new_run_id(), task=task, usage_start=self._meter.snapshot(), followup=followup)
        self._run, self._state = run, SessionState.RUNNING
        self._idle.clear()
        _, controls = self._memory.ensure()
        controls.begin_run(budget or self._default_budget)
        started = RunStarted(task=task, followup=followup, session_id=self.session_id, budget=controls.budget.as_dict())
        try:
            await self._outlet.emit(started, run.run_id)
        except EventNotStored:
            self._run, self._state = None, SessionState.IDLE
            self._idle.set()
            raise SessionCommandError(
                ErrorCode.STORE_UNAVAILABLE, "The run store is unavailable, so the task was not started; try again."
            ) from None
        await self._emit_state("The team is working.")
        await self._launch(run, task)
        return run

    async def _launch(self, run: Run, task: str | None) -> None:
        """Start one run_stream() call of `run`; the pause switch and stop labels are reset here, not in the
        driver, so a pause acknowledged before the driver runs is kept."""
        team, controls = self._memory.ensure()
        await controls.pause.reset()
        controls.cause.clear()
        context = self._run_context(run.run_id) if self._run_context is not None else None
        run.driver = asyncio.create_task(
            self._drive(run, task, team, controls), name=f"team-run-{run.run_id}", context=context
        )

    async def _drive(self, run: Run, task: str | None, team: SelectorGroupChat, controls: TeamControls) -> None:
        run.token = CancellationToken()
        watchdog = asyncio.get_running_loop().call_later(
            self._limits.hard_timeout_s, lambda: self._spawn(self._abort_if_current(run, StopReason.TIMEOUT))
        )
        failure: Exception | None = None
        try:
            await stream_run(team, run, task, self._outlet, self._run_slots)
        except asyncio.CancelledError:
            if not run.closed:  # cancelled from outside our own abort: treat as a cancel
                self._spawn(self._abort_if_current(run, StopReason.CANCELLED))
            raise
        except Exception as exc:  # noqa: BLE001 - an agent, model or store error ends the run, never the session
            failure = exc
        finally:
            watchdog.cancel()
        async with self._lock:
            if run.closed or self._run is not run:
                return
            if failure is not None:
                await self._fail(run, failure)
            else:
                await self._settle(run, set(controls.cause.labels))

    async def _settle(self, run: Run, labels: set[str]) -> None:
        """After run_stream() ended normally: finished, or paused."""
        reason = stop_reason_for(labels)
        if reason is None and TerminationLabel.PAUSED in labels:
            self._state = SessionState.PAUSED
            if self._outlet.checkpoints and self._memory.team is not None:
                run.team_state = await self._memory.team.save_state()  # stopped: a consistent state to resume from
            await self._emit_state("Paused. Say resume to continue.")
            return
        await self._finish(run, reason or StopReason.STOPPED)

    async def _finish(
        self,
        run: Run,
        reason: StopReason,
        *,
        error: str | None = None,
        error_code: ErrorCode | None = None,
        dropped_followups: list[str] | None = None,
    ) -> None:
        """Close `run`: save the team's state, announce the end, release the run, start the next follow-up."""
        run.closed = True
        if reason in KEEPS_STATE and await self._memory.remember(run.run_id):
            self._outlet.memory_changed = True
        usage = self._meter.snapshot().minus(run.usage_start)
        payload = run_finished(run, reason, usage, self._memory.controls, error, error_code, dropped_followups)
        await self._outlet.emit_quietly(payload, run.run_id, owed=True)
        if self._run is run:
            self._run, self._state = None, SessionState.IDLE
        while self._followups and self._run is None and not self._closed:
            try:
                await self._start_run(self._followups.popleft(), followup=True)
            except SessionCommandError as exc:
                log.warning("a follow-up of session %s was dropped: %s", self.session_id, exc.message)
                await self._outlet.emit_quietly(RunError(code=exc.code, message=exc.message), None)
        if self._run is None:
            await self._emit_state("Ready.")
            self._idle.set()

    async def _fail(self, run: Run, exc: Exception) -> None:
        run.closed = True
        code, message = describe_error(exc)
        log.warning("run %s failed: %s: %s", run.run_id, code, message)
        await self._outlet.emit_quietly(RunError(code=code, message=message), run.run_id, owed=True)
        await self._memory.rebuild()
        await self._finish(run, StopReason.ERROR, error=message, error_code=code)

    async def _abort(
        self, run: Run, reason: StopReason, *, rebuild: bool = True, dropped_followups: list[str] | None = None
    ) -> None:
        """End `run` now (cancel, reset, hard timeout). The end is announced at once; the old run task and its
        team are cleaned up in the background, since a tool call can keep them stuck (see stop_runtime)."""
        if run.closed:
            return
        run.closed = True
        driver, old_team = run.driver, self._memory.team
        if driver is not None and not driver.done() and driver is not asyncio.current_task():
            if run.token is not None:
                run.token.cancel()
            driver.cancel()
            self._spawn(reap_cancelled(run.run_id, driver, old_team, self._limits.cancel_grace_s))
        elif old_team is not None:
            self._spawn(stop_runtime(old_team))
        if rebuild:
            await self._memory.rebuild(stop_old=False)
        else:
            self._memory.drop()
        await self._finish(run, reason, dropped_followups=dropped_followups)

    async def _abort_if_current(self, run: Run, reason: StopReason) -> None:
        async with self._lock:
            if self._run is run and not run.closed:
                await self._abort(run, reason)

    # ---- events -----------------------------------------------------------------------------------------
    async def _emit_state(self, message: str) -> None:
        payload = StateChanged(state=self._state.value, message=message)
        await self._outlet.emit_quietly(payload, self._run.run_id if self._run else None)

    def _view(self) -> SessionView:
        return SessionView(
            self._memory.snapshot, self._followups, self._run, self._state, self._memory.controls, self._meter
        )

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Future[None]:
        return self._background.spawn(coro)
