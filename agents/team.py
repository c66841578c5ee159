"""Builds the Manager/Researcher/Developer SelectorGroupChat. One team object per session, never shared."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import ExternalTermination
from autogen_agentchat.teams import SelectorGroupChat
from autogen_core.tools import BaseTool

from agents import prompts
from agents.model_clients import TeamModelClients
from agents.routing import make_selector
from agents.termination import StopCause, build_termination

MANAGER, RESEARCHER, DEVELOPER = "Manager", "Researcher", "Developer"
WORKERS = (RESEARCHER, DEVELOPER)


@dataclass(frozen=True)
class TeamLimits:
    max_messages: int = 40
    run_timeout_s: float = 600.0
    max_tool_iterations: int = 4
    deterministic_selector: bool = True


@dataclass
class TeamControls:
    """Handles a session keeps on its current team: the pause switch and what stopped the last run."""

    pause: ExternalTermination = field(default_factory=ExternalTermination)
    cause: StopCause = field(default_factory=StopCause)


def build_team(
    clients: TeamModelClients,
    *,
    researcher_tools: Sequence[BaseTool[Any, Any]] = (),
    developer_tools: Sequence[BaseTool[Any, Any]] = (),
    limits: TeamLimits = TeamLimits(),
) -> tuple[SelectorGroupChat, TeamControls]:
    """A fresh team and its controls. Called again after a cancel or an error (AutoGen 0.7.5 teams do not
    resume cleanly after a cancel), then the session loads the saved state into it."""
    controls = TeamControls()
    manager = AssistantAgent(
        MANAGER,
        model_client=clients.manager,
        system_message=prompts.MANAGER,
        description=prompts.DESCRIPTIONS[MANAGER],
    )
    researcher = AssistantAgent(
        RESEARCHER,
        model_client=clients.researcher,
        system_message=prompts.RESEARCHER,
        description=prompts.DESCRIPTIONS[RESEARCHER],
        tools=list(researcher_tools),
        reflect_on_tool_use=True,
        max_tool_iterations=limits.max_tool_iterations,
    )
    developer = AssistantAgent(
        DEVELOPER,
        model_client=clients.developer,
        system_message=prompts.DEVELOPER,
        description=prompts.DESCRIPTIONS[DEVELOPER],
        tools=list(developer_tools),
        reflect_on_tool_use=True,
        max_tool_iterations=limits.max_tool_iterations,
    )
    termination = build_termination(
        manager=MANAGER,
        max_messages=limits.max_messages,
        timeout_s=limits.run_timeout_s,
        pause=controls.pause,
        cause=controls.cause,
    )
    team = SelectorGroupChat(
        [manager, researcher, developer],
        model_client=clients.selector,
        termination_condition=termination,
        selector_prompt=prompts.SELECTOR_PROMPT,
        selector_func=make_selector(MANAGER, WORKERS) if limits.deterministic_selector else None,
        allow_repeated_speaker=True,
        emit_team_events=True,
    )
    return team, controls
