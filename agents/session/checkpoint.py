"""A session's checkpoint: what another worker needs to carry on after this one died.

Two parts, so the common write stays small: `state` (the run: the team's state at its last message boundary,
follow-ups, usage) with every event, and `memory` (the team's state after the last finished run, which a
cancel goes back to) only when it changed. The run's messages so far are not in it: they are the run's stored
events, read back at restore.

Written with an event, in the same transaction (app/store/run_store.py), so "event N is stored" and "the session's state
as of event N is stored" are one fact. Taken at every message boundary of a run (AutoGen `save_state()` right
when the message comes out of `run_stream()`), at every run start, pause, follow-up and end. A worker that
claims the session after a crash rebuilds the team, `load_state()`s it and calls `run_stream()` without a task
(agents/session/team_session.py `TeamSession.restore`).

What is at-least-once: the step in flight at the crash (a model call, a tool call, the Developer's code) runs
again on the new worker, since its result was not part of any checkpoint. A run whose first step had not yet
been checkpointed starts again from its task.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from autogen_agentchat.messages import MessageFactory
from autogen_agentchat.teams import SelectorGroupChat
from pydantic import BaseModel, Field

from agents.events import RunResumed
from agents.models.budget import RunBudget
from agents.models.metering import MeterUsage, UsageMeter
from agents.session.autogen_events import AgentMessage
from agents.session.run_state import Run, SessionState
from agents.team.build import TeamControls

CHECKPOINT_VERSION = 1


class MeterState(BaseModel):
    total: dict[str, int] = Field(default_factory=dict)
    by_role: dict[str, dict[str, int]] = Field(default_factory=dict)


class RunCheckpoint(BaseModel):
    run_id: str
    task: str
    followup: bool = False
    state: str = "running"  # the session's state then: running, pausing or paused
    team_state: dict[str, Any] | None = None  # None: no step checkpointed yet, start again from the task
    last_speaker: str | None = None
    elapsed_s: float = 0.0
    budget: dict[str, Any] = Field(default_factory=dict)
    usage_start: dict[str, int] = Field(default_factory=dict)  # the meter when the run started
    usage_start_by_role: dict[str, dict[str, int]] = Field(default_factory=dict)


class Checkpoint(NamedTuple):
    """What is stored with one event: `state` (SessionCheckpoint JSON without the memory), `memory` (JSON of
    the team's state after the last finished run; None: unchanged since the last checkpoint)."""

    state: str
    memory: str | None = None


class SessionCheckpoint(BaseModel):
    version: int = CHECKPOINT_VERSION
    snapshot: dict[str, Any] | None = Field(default=None, exclude=True)  # memory: stored apart (Checkpoint)
    followups: list[str] = Field(default_factory=list)
    run: RunCheckpoint | None = None
    meter: MeterState = Field(default_factory=MeterState)


def meter_state(meter: UsageMeter) -> MeterState:
    return MeterState(total=meter.total.as_dict(), by_role={r: u.as_dict() for r, u in meter.by_role.items()})


def restore_meter(meter: UsageMeter, state: MeterState) -> None:
    """Carry the session's totals over, so budgets and run usage count what the dead worker already spent."""
    meter.total = MeterUsage(**state.total) if state.total else MeterUsage()
    meter.by_role = {role: MeterUsage(**usage) for role, usage in state.by_role.items()}


def session_checkpoint(
    memory: Mapping[str, Any] | None,
    memory_changed: bool,
    followups: Iterable[str],
    run: Run | None,
    state: SessionState,
    controls: TeamControls | None,
    meter: UsageMeter,
) -> Checkpoint:
    """What is stored with an event: everything a TeamSession needs to carry on elsewhere."""
    saved = SessionCheckpoint(
        followups=list(followups),
        run=run_checkpoint(run, state, controls) if run is not None and not run.closed else None,
        meter=meter_state(meter),
    )
    return Checkpoint(saved.model_dump_json(), json.dumps(memory) if memory_changed else None)


def read_checkpoint(state: str, memory: str | None) -> SessionCheckpoint:
    saved = SessionCheckpoint.model_validate_json(state)
    saved.snapshot = json.loads(memory) if memory else None
    return saved


def run_checkpoint(run: Run, state: SessionState, controls: TeamControls | None) -> RunCheckpoint:
    tracker = controls.run.tracker if controls is not None else None
    team_state = run.team_state
    return RunCheckpoint(
        run_id=run.run_id,
        task=run.task,
        followup=run.followup,
        state=state.value,
        team_state=dict(team_state) if team_state is not None else None,
        last_speaker=run.last_speaker,
        elapsed_s=round(run.elapsed_s(), 3),
        budget=tracker.budget.as_dict() if tracker is not None else {},
        usage_start=run.usage_start.as_dict(),
        usage_start_by_role={r: u.as_dict() for r, u in tracker.start_by_role.items()} if tracker else {},
    )


def restored_messages(dumps: Iterable[Mapping[str, Any]]) -> list[AgentMessage]:
    """The run's messages from their stored events (TeamMessage data is AutoGen's dump())."""
    factory = MessageFactory()
    return [factory.create(dict(dump)) for dump in dumps]


def restored_budget(checkpoint: RunCheckpoint) -> RunBudget:
    return RunBudget(**checkpoint.budget) if checkpoint.budget else RunBudget()


async def restore_run(
    checkpoint: SessionCheckpoint, team: SelectorGroupChat, controls: TeamControls, messages: list[AgentMessage]
) -> tuple[Run, SessionState]:
    """The checkpointed run on a fresh team: its state loaded (or the team's memory, when no step was
    checkpointed yet), its budget counting from its own start, its messages so far."""
    saved = checkpoint.run
    assert saved is not None
    state = saved.team_state if saved.team_state is not None else checkpoint.snapshot
    if state is not None:
        await team.load_state(state)
    resume_tracking(controls, saved)
    run = Run(
        run_id=saved.run_id,
        task=saved.task,
        usage_start=MeterUsage(**saved.usage_start),
        started=time.monotonic() - saved.elapsed_s,
        messages=messages,
        last_speaker=saved.last_speaker,
        team_state=saved.team_state,
        followup=saved.followup,
    )
    return run, SessionState(saved.state)


def run_resumed(run: Run, state: SessionState, covered_seq: int) -> RunResumed:
    """What the clients are told when a run carries on from its checkpoint."""
    told = "still paused" if state == SessionState.PAUSED else "the step that was in progress runs again"
    return RunResumed(
        task=run.task, from_seq=covered_seq, state=state.value, message=f"Resumed on another worker: {told}."
    )


def resume_tracking(controls: TeamControls, checkpoint: RunCheckpoint) -> None:
    """The restored run's budget counts from the run's own start, not from the new worker's."""
    controls.begin_run(restored_budget(checkpoint))
    controls.run.tracker.resume_from(
        MeterUsage(**checkpoint.usage_start),
        {role: MeterUsage(**usage) for role, usage in checkpoint.usage_start_by_role.items()},
    )
