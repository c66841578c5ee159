"""Drive a team without a server: build it on the fake OpenAI server and run one task, reading what ended it
(openai_team, run_task); or run the real TeamSession on scripted models and record its events (scripted_session)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.teams import SelectorGroupChat
from autogen_core.tools import FunctionTool

from agents.events import SessionPayload, TeamMessage
from agents.models.budget import RunBudget
from agents.models.clients import ROLES, TeamModelClients, openai_client
from agents.session.autogen_events import AgentMessage, FinalAnswer, extract_answer
from agents.session.checkpoint import Checkpoint
from agents.session.team_session import SessionLimits, TeamSession
from agents.stop import StopReason, stop_reason_for
from agents.team.build import MANAGER, WORKERS, TeamControls, TeamLimits, build_team
from tests.support.scripted import Script, ScriptedClient, developer_tools, research_tools


@dataclass
class Outcome:
    messages: list[AgentMessage]
    stop_reason: StopReason | None
    answer: FinalAnswer
    spent: dict[str, Any]


def openai_team(fake: Any, limits: TeamLimits = TeamLimits(), **kwargs: Any) -> tuple[SelectorGroupChat, TeamControls]:
    """The team with AutoGen's real OpenAI client for every role, pointed at the fake OpenAI server."""
    clients = TeamModelClients.wrap(
        {
            role: openai_client(
                "gpt-6-luna",
                reasoning_effort="none",
                api_key="sk-fake-test-key",
                base_url=fake.base_url,
                timeout=10,
                max_retries=0,
                usage_details=True,
            )
            for role in ROLES
        }
    )
    return build_team(
        clients, researcher_tools=research_tools(), developer_tools=developer_tools("s"), limits=limits, **kwargs
    )


async def run_task(
    team: SelectorGroupChat, controls: TeamControls, task: str, budget: RunBudget | None = None
) -> Outcome:
    """One new run, the way the session starts it (begin_run before the task)."""
    controls.begin_run(budget or controls.budget)
    controls.cause.clear()
    messages: list[AgentMessage] = []
    async for item in team.run_stream(task=task):
        if not isinstance(item, TaskResult):
            messages.append(item)
    return Outcome(
        messages=messages,
        stop_reason=stop_reason_for(set(controls.cause.labels)),
        answer=extract_answer(messages, MANAGER, WORKERS),
        spent=controls.spent(),
    )


# ---- a TeamSession on scripted models, its events recorded ----------------------------------------------
class Recorder:
    """An EventSink that keeps events in memory."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def __call__(
        self, payload: SessionPayload, run_id: str | None, *, checkpoint: Checkpoint | None = None
    ) -> None:
        if isinstance(payload, TeamMessage):
            event = {"type": payload.type, "source": "team", "data": payload.data, "run_id": run_id}
        else:
            event = {"type": payload.event_type, "source": "system", "data": payload.model_dump(mode="json")}
            event["run_id"] = run_id
        self.events.append(event)
        self.changed.set()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 5.0) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout)


def scripted_session(
    script: Script,
    *,
    session_id: str = "s_test_session",
    researcher_tools: list[FunctionTool] | None = None,
    limits: TeamLimits = TeamLimits(),
    session_limits: SessionLimits = SessionLimits(cancel_grace_s=0.5, hard_timeout_s=30),
) -> tuple[TeamSession, Recorder, dict[str, ScriptedClient]]:
    """The real TeamSession and team on `script`'s clients (the scripted tools unless `researcher_tools`), its
    events kept by a Recorder; also the raw clients, to count their calls."""
    clients, raw = script.clients()
    recorder = Recorder()
    tools = research_tools() if researcher_tools is None else researcher_tools
    session = TeamSession(
        session_id,
        factory=lambda: build_team(
            clients, researcher_tools=tools, developer_tools=developer_tools("s"), limits=limits
        ),
        meter=clients.meter,
        emit=recorder,
        limits=session_limits,
    )
    return session, recorder, raw


def finished(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "run_finished")
