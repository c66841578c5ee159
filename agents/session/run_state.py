"""The plain data a TeamSession keeps: its state names, its limits, one run's bookkeeping and its end."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from autogen_core import CancellationToken

from agents.events import ErrorCode, RunFinished, Usage
from agents.manager.sources import ledger_of
from agents.models.metering import MeterUsage
from agents.session.autogen_events import AgentMessage, extract_answer
from agents.stop import StopReason
from agents.team.build import MANAGER, WORKERS, TeamControls


class SessionState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"


@dataclass(frozen=True)
class SessionLimits:
    cancel_grace_s: float = 2.0
    max_followups: int = 5
    hard_timeout_s: float = 630.0


@dataclass
class Run:
    run_id: str
    task: str
    usage_start: MeterUsage
    started: float = field(default_factory=time.monotonic)
    messages: list[AgentMessage] = field(default_factory=list)
    driver: asyncio.Task[None] | None = None
    token: CancellationToken | None = None
    closed: bool = False
    last_speaker: str | None = None
    team_state: Any = None  # the team's state at the last message boundary (checkpoints only)
    followup: bool = False
    checkpoint_due: bool = False  # the next team event is a message boundary: store the state with it

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:16]


STOPPED_BY_GUARD = {StopReason.BUDGET, StopReason.NO_PROGRESS}  # run_finished.error says why, in a sentence


def run_finished(
    run: Run,
    reason: StopReason,
    usage: MeterUsage,
    controls: TeamControls | None,
    error: str | None,
    error_code: ErrorCode | None,
    dropped_followups: list[str] | None,
) -> RunFinished:
    """The run_finished payload: the answer and its sources, why it ended, what it used."""
    answer = extract_answer(run.messages, MANAGER, WORKERS)
    return RunFinished(
        final_answer=answer.text,
        sources=answer.sources,
        source_entries=ledger_of(run.messages).entries(answer.sources, answer.text),  # read, or not
        complete=answer.complete and reason == StopReason.COMPLETED,
        stop_reason=reason,
        task=run.task,
        duration_s=round(time.monotonic() - run.started, 3),
        usage=Usage(**usage.as_dict()),
        messages=len(run.messages),
        error=error or (controls.stop_detail if controls and reason in STOPPED_BY_GUARD else None),
        error_code=error_code,
        spent=controls.spent() if controls is not None else None,
        dropped_followups=dropped_followups or None,
    )


def status_of(state: SessionState, run: Run | None, followups: int, total: MeterUsage) -> dict[str, Any]:
    """The session's `status` reply (app/core/protocol.py's Status)."""
    return {
        "state": state.value,
        "run_id": run.run_id if run else None,
        "task": run.task if run else None,
        "elapsed_s": round(time.monotonic() - run.started, 3) if run else None,
        "messages": len(run.messages) if run else 0,
        "last_speaker": run.last_speaker if run else None,
        "queued_followups": followups,
        "usage": total.as_dict(),
    }
