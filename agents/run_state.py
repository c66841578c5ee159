"""The plain data a TeamSession keeps: its state names, its limits, and one run's bookkeeping."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from autogen_core import CancellationToken

from agents.events import AgentMessage
from agents.metering import Usage as MeterUsage


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


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:16]
