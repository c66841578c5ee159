"""TeamSession: one team per connection, with runs that can be paused, resumed, cancelled and followed up.

How the AutoGen 0.7.5 pitfalls are avoided:
- Pause is graceful: ExternalTermination.set() lets the current agent turn finish; the team keeps its state and
  resume calls run_stream() without a task.
- Cancel is immediate for the client: the run is closed and announced at once, and the next task runs on a
  new team rebuilt from the state saved after the last finished run (the same team does not resume cleanly
  after a cancel). The old run task is cancelled in the background and given `cancel_grace_s` to unwind; a
  tool call can keep it stuck (an AutoGen deadlock), so then its runtime is stopped by force. Agent errors
  also rebuild the team.
- A task sent while a run is active is queued as a follow-up and started when the run finishes.

State changes happen without an await between check and change, so the run task and the commands (serialized
by a lock) never both finish the same run: whoever sets `run.closed` first owns the ending.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from autogen_agentchat.base import TaskResult
from autogen_agentchat.teams import SelectorGroupChat
from autogen_core import CancellationToken

from agents.background import BackgroundTasks
from agents.events import AgentMessage, final_answer, serialize_message
from agents.metering import Usage, UsageMeter
from agents.team import MANAGER, TeamControls

log = logging.getLogger(__name__)

TeamFactory = Callable[[], tuple[SelectorGroupChat, TeamControls]]


class EventSink(Protocol):
    """Where the session's events go (the app stores them, then sends them)."""

    def __call__(self, *, type: str, source: str, data: dict[str, Any], run_id: str | None) -> Awaitable[None]: ...


class SessionState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"


class SessionCommandError(Exception):
    """A command that cannot be carried out now; `code` goes to the client in an error event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SessionLimits:
    cancel_grace_s: float = 2.0
    max_followups: int = 5
    hard_timeout_s: float = 630.0


@dataclass
class Run:
    run_id: str
    task: str
    usage_start: Usage
    started: float = field(default_factory=time.monotonic)
    messages: list[AgentMessage] = field(default_factory=list)
    driver: asyncio.Task[None] | None = None
    token: CancellationToken | None = None
    closed: bool = False
    last_speaker: str | None = None


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:16]


class TeamSession:
    def __init__(
        self,
        session_id: str,
        *,
        factory: TeamFactory,
        meter: UsageMeter,
        emit: EventSink,
        limits: SessionLimits = SessionLimits(),
        unavailable: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`unavailable`: why no model can be called (no API key); tasks are then refused with that message."""
        self.session_id = session_id
        self._factory = factory
        self._meter = meter
        self._emit = emit
        self._limits = limits
        self._unavailable = unavailable
        self._on_close = on_close
        self._team: SelectorGroupChat | None = None
        self._controls: TeamControls | None = None
        self._snapshot: Mapping[str, Any] | None = None
        self._state = SessionState.IDLE
        self._run: Run | None = None
        self._followups: deque[str] = deque()
        self._lock = asyncio.Lock()
        self._background = BackgroundTasks()
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
        run = self._run
        return {
            "state": self._state.value,
            "run_id": run.run_id if run else None,
            "task": run.task if run else None,
            "elapsed_s": round(time.monotonic() - run.started, 3) if run else None,
            "messages": len(run.messages) if run else 0,
            "last_speaker": run.last_speaker if run else None,
            "queued_followups": len(self._followups),
            "usage": self._meter.total.as_dict(),
        }

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Until no run is active (tests and shutdown use it)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    # ---- commands -------------------------------------------------------------------------------------
    async def submit_task(self, text: str) -> dict[str, Any]:
        """Start a run, or queue the task as a follow-up when a run is active."""
        if self._unavailable:
            raise SessionCommandError("no_model_access", self._unavailable)
        async with self._lock:
            if self._run is None:
                run = await self._start_run(text, followup=False)
                return {"status": "started", "run_id": run.run_id}
            if len(self._followups) >= self._limits.max_followups:
                raise SessionCommandError("too_many_followups", "Too many follow-ups are queued; wait for the run.")
            self._followups.append(text)
            await self._emit(
                type="followup_queued",
                source="system",
                data={"text": text, "position": len(self._followups), "state": self._state.value},
                run_id=self._run.run_id,
            )
            return {"status": "queued", "run_id": self._run.run_id, "position": len(self._followups)}

    async def pause(self) -> dict[str, Any]:
        async with self._lock:
            if self._state in (SessionState.PAUSING, SessionState.PAUSED):
                raise SessionCommandError("already_paused", "The run is already paused.")
            if self._state != SessionState.RUNNING or self._run is None or self._controls is None:
                raise SessionCommandError("no_active_run", "There is no run to pause.")
            self._controls.pause.set()
            self._state = SessionState.PAUSING
            await self._emit_state("The team will pause after the current step.")
            return {"status": "pausing", "run_id": self._run.run_id}

    async def resume(self) -> dict[str, Any]:
        async with self._lock:
            run = self._run
            if self._state != SessionState.PAUSED or run is None:
                raise SessionCommandError("not_paused", "The run is not paused.")
            self._state = SessionState.RUNNING
            await self._emit_state("Resumed.")
            run.driver = asyncio.create_task(self._drive(run, None), name=f"team-run-{run.run_id}")
            return {"status": "running", "run_id": run.run_id}

    async def cancel(self) -> dict[str, Any]:
        async with self._lock:
            run = self._run
            if run is None or run.closed:
                raise SessionCommandError("no_active_run", "There is no run to cancel.")
            dropped = list(self._followups)
            self._followups.clear()
            await self._abort(run, "cancelled", dropped_followups=dropped)
            return {"status": "cancelled", "run_id": run.run_id, "dropped_followups": len(dropped)}

    async def reset(self) -> dict[str, Any]:
        """Forget everything: cancel any run, drop follow-ups and the team's memory."""
        async with self._lock:
            self._followups.clear()
            if self._run is not None and not self._run.closed:
                await self._abort(self._run, "reset", rebuild=False)
            self._snapshot = None
            if self._team is not None:
                self._spawn(stop_runtime(self._team))
            self._team, self._controls = None, None  # built again, empty, by the next task
            await self._emit(type="system", source="system", data={"event": "reset", "state": "idle"}, run_id=None)
            return {"status": "reset"}

    async def close(self) -> None:
        """End the session: stop any run, release resources."""
        async with self._lock:
            self._followups.clear()
            if self._run is not None and not self._run.closed:
                await self._abort(self._run, "closed", rebuild=False)
        if self._on_close is not None:
            await self._on_close()
        # The cancelled run's clean-up (see _reap) is ours to finish: never leave it pending at shutdown.
        await self._background.drain(timeout=2 * self._limits.cancel_grace_s + 1)

    # ---- runs -----------------------------------------------------------------------------------------
    def _ensure_team(self) -> tuple[SelectorGroupChat, TeamControls]:
        if self._team is None or self._controls is None:
            self._team, self._controls = self._factory()
        return self._team, self._controls

    async def _start_run(self, task: str, *, followup: bool) -> Run:
        self._ensure_team()
        run = Run(run_id=new_run_id(), task=task, usage_start=self._meter.snapshot())
        self._run = run
        self._state = SessionState.RUNNING
        self._idle.clear()
        await self._emit(
            type="run_started",
            source="system",
            data={"task": task, "followup": followup, "session_id": self.session_id},
            run_id=run.run_id,
        )
        await self._emit_state("The team is working.")
        run.driver = asyncio.create_task(self._drive(run, task), name=f"team-run-{run.run_id}")
        return run

    async def _drive(self, run: Run, task: str | None) -> None:
        """Run one run_stream() call of `run` (the first, or one after a resume) and settle what follows."""
        team, controls = self._ensure_team()
        await controls.pause.reset()
        controls.cause.clear()
        run.token = CancellationToken()
        watchdog = asyncio.get_running_loop().call_later(
            self._limits.hard_timeout_s, lambda: self._spawn(self._abort_if_current(run, "timeout"))
        )
        try:
            async for item in team.run_stream(task=task, cancellation_token=run.token):
                if run.closed:
                    return
                if isinstance(item, TaskResult):
                    continue
                run.messages.append(item)
                run.last_speaker = item.source
                kind, _, data = serialize_message(item)
                await self._emit(type=kind, source="team", data=data, run_id=run.run_id)
        except asyncio.CancelledError:
            if not run.closed:  # cancelled from outside our own abort: treat as a cancel
                self._spawn(self._abort_if_current(run, "cancelled"))
            raise
        except Exception as exc:  # noqa: BLE001 - an agent or model error ends the run, never the session
            if not run.closed:
                await self._fail(run, exc)
            return
        finally:
            watchdog.cancel()
        if not run.closed:
            await self._settle(run, set(controls.cause.labels))

    async def _settle(self, run: Run, causes: set[str]) -> None:
        """After run_stream() ended normally: finished, or paused."""
        if "completed" in causes:
            await self._finish(run, "completed")
        elif "paused" in causes and not causes & {"max_messages", "timeout"}:
            self._state = SessionState.PAUSED
            await self._emit_state("Paused. Say resume to continue.")
        elif "max_messages" in causes:
            await self._finish(run, "max_messages")
        elif "timeout" in causes:
            await self._finish(run, "timeout")
        else:
            await self._finish(run, "stopped")

    async def _finish(
        self, run: Run, stop_reason: str, *, error: str | None = None, dropped_followups: list[str] | None = None
    ) -> None:
        run.closed = True
        answer, complete = final_answer(run.messages, MANAGER)
        data: dict[str, Any] = {
            "final_answer": answer,
            "complete": complete and stop_reason == "completed",
            "stop_reason": stop_reason,
            "task": run.task,
            "duration_s": round(time.monotonic() - run.started, 3),
            "usage": self._meter.snapshot().minus(run.usage_start).as_dict(),
            "messages": len(run.messages),
        }
        if error:
            data["error"] = error
        if dropped_followups:
            data["dropped_followups"] = dropped_followups
        await self._emit(type="run_finished", source="system", data=data, run_id=run.run_id)
        if self._run is run:
            self._run = None
            self._state = SessionState.IDLE
        if stop_reason not in ("cancelled", "reset", "closed", "error") and self._team is not None:
            self._snapshot = await self._team.save_state()
        if self._followups and self._run is None:
            await self._start_run(self._followups.popleft(), followup=True)
        elif self._run is None:
            await self._emit_state("Ready.")
            if self._run is None:
                self._idle.set()

    async def _fail(self, run: Run, exc: Exception) -> None:
        run.closed = True
        code, message = describe_error(exc)
        log.warning("run %s failed: %s: %s", run.run_id, code, message)
        await self._emit(type="error", source="system", data={"code": code, "message": message}, run_id=run.run_id)
        await self._rebuild()
        await self._finish(run, "error", error=message)

    async def _abort(
        self, run: Run, reason: str, *, rebuild: bool = True, dropped_followups: list[str] | None = None
    ) -> None:
        """End `run` now (cancel, reset, hard timeout). The end is announced at once; the old run task and its
        team are cleaned up in the background, since a tool call can keep them stuck (see stop_runtime)."""
        if run.closed:
            return
        run.closed = True
        driver, old_team = run.driver, self._team
        if driver is not None and not driver.done() and driver is not asyncio.current_task():
            if run.token is not None:
                run.token.cancel()
            driver.cancel()
            self._spawn(self._reap(run, driver, old_team))
        elif old_team is not None:
            self._spawn(stop_runtime(old_team))
        if rebuild:
            await self._rebuild(stop_old=False)
        else:
            self._team, self._controls = None, None
        await self._finish(run, reason, dropped_followups=dropped_followups)

    async def _reap(self, run: Run, driver: asyncio.Task[None], team: SelectorGroupChat | None) -> None:
        """Give a cancelled run task `cancel_grace_s` to end by itself, then unstick its runtime."""
        done, _ = await asyncio.wait({driver}, timeout=self._limits.cancel_grace_s)
        if not done:
            log.warning(
                "run %s did not stop within %.1fs of its cancel; stopping its runtime",
                run.run_id,
                self._limits.cancel_grace_s,
            )
        if team is not None:
            await stop_runtime(team)
        await asyncio.wait({driver}, timeout=self._limits.cancel_grace_s)

    async def _abort_if_current(self, run: Run, reason: str) -> None:
        async with self._lock:
            if self._run is run and not run.closed:
                await self._abort(run, reason)

    async def _rebuild(self, *, stop_old: bool = True) -> None:
        """A fresh team with the state saved after the last finished run (see module docstring)."""
        old = self._team
        self._team, self._controls = self._factory()
        if self._snapshot is not None:
            await self._team.load_state(self._snapshot)
        if stop_old and old is not None:
            self._spawn(stop_runtime(old))

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._background.spawn(coro)

    async def _emit_state(self, message: str) -> None:
        await self._emit(
            type="system",
            source="system",
            data={"event": "state", "state": self._state.value, "message": message},
            run_id=self._run.run_id if self._run else None,
        )


async def stop_runtime(team: SelectorGroupChat) -> None:
    """Stop the embedded runtime of a team we replaced, so nothing of it lingers.

    A cancel during a tool call leaves an agent handler waiting forever on its tool-result queue (AutoGen 0.7.5
    deadlock). Cancelling the runtime's background tasks unwinds that handler; then the runtime can stop and
    the abandoned run task ends too. This reads a private attribute of a library in maintenance mode: the test
    test_cancel_during_tool_call_then_next_task_works fails if it stops working.
    """
    runtime = getattr(team, "_runtime", None)
    if runtime is None:
        return
    for task in list(getattr(runtime, "_background_tasks", ())):
        task.cancel()
    try:
        await asyncio.wait_for(runtime.stop(), timeout=5)
    except Exception:  # noqa: BLE001 - a runtime that is not running cannot be stopped, which is fine
        pass


def describe_error(exc: BaseException) -> tuple[str, str]:
    """An error code and a one-line message for the client (no stack, no secrets).

    AutoGen re-raises agent errors as RuntimeError("<OriginalType>: <message>"), so the text is classified,
    not only the exception type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    haystack = f"{type(exc).__name__} {text}".lower()
    if "ratelimit" in haystack or "error code: 429" in haystack or "rate limit" in haystack:
        return "model_rate_limited", f"The model API is rate limiting us: {text[:300]}"
    if "authentication" in haystack or "error code: 401" in haystack or "incorrect api key" in haystack:
        return "model_auth_failed", "The model API refused our credentials: check OPENAI_API_KEY."
    if "timeout" in haystack or "timed out" in haystack:
        return "model_timeout", f"The model API did not answer in time: {text[:300]}"
    if any(
        name in haystack
        for name in (
            "apiconnection",
            "apistatus",
            "internalserver",
            "badrequest",
            "notfounderror",
            "permissiondenied",
            "error code: 5",
        )
    ):
        return "model_error", f"The model API failed: {text[:300]}"
    return "agent_error", f"The team stopped on an error: {text[:300]}"
