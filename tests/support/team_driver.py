"""Drive a team directly (no session, no server): build it on the fake OpenAI server or on scripted clients,
run one task, and read what ended it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.teams import SelectorGroupChat

from agents.models.budget import RunBudget
from agents.models.clients import ROLES, TeamModelClients, openai_client
from agents.session.autogen_events import AgentMessage, FinalAnswer, extract_answer
from agents.stop import StopReason, stop_reason_for
from agents.team.build import MANAGER, WORKERS, TeamControls, TeamLimits, build_team
from tests.support.scripted import developer_tools, research_tools


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
