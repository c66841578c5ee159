"""Builds the Manager/Researcher/Developer SelectorGroupChat. One team object per session, never shared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import ExternalTermination
from autogen_agentchat.teams import SelectorGroupChat
from autogen_core.model_context import BufferedChatCompletionContext
from autogen_core.tools import BaseTool

from agents.manager.contexts import ManagerContext, WorkerContext
from agents.manager.routing import make_selector
from agents.manager.run_control import RunControl
from agents.manager.steering import SteeredChatCompletionClient
from agents.manager.termination import StopCause, build_termination
from agents.manager.tool_reports import summarize_result
from agents.manager.tools import manager_tools, summarize_call
from agents.models.budget import BudgetTracker, RunBudget, TokenPrice
from agents.models.clients import TeamModelClients
from agents.models.selector_fallback import FallbackSelectorClient
from agents.team import prompts

MANAGER, RESEARCHER, DEVELOPER = "Manager", "Researcher", "Developer"
WORKERS = (RESEARCHER, DEVELOPER)
SELECTOR_HISTORY = 6  # messages the selector model reads: who speaks next depends on the last few turns


@dataclass(frozen=True)
class TeamLimits:
    max_messages: int = 40
    run_timeout_s: float = 600.0
    max_tool_iterations: int = 4  # tool rounds a worker makes in a row before the Manager speaks (routing, rule 3)
    deterministic_selector: bool = True
    budget: RunBudget = field(default_factory=RunBudget)  # the default budget of a run
    max_stalls: int = 2  # Manager turns in a row without progress before the run stops (NO_PROGRESS)


@dataclass
class TeamControls:
    """Handles a session keeps on its current team: the pause switch, what stopped the last run, and the run's
    guard and budget."""

    run: RunControl
    pause: ExternalTermination = field(default_factory=ExternalTermination)
    cause: StopCause = field(default_factory=StopCause)

    def begin_run(self, budget: RunBudget) -> None:
        """Before each NEW run (not on resume): this run's budget, counters from zero."""
        self.run.begin(budget)

    def spent(self) -> dict[str, Any]:
        """What the current (or last) run used: model_calls, prompt/completion tokens, tokens, usd (None when
        no price is known)."""
        return self.run.tracker.spent()

    @property
    def budget(self) -> RunBudget:
        return self.run.tracker.budget

    @property
    def stop_detail(self) -> str | None:
        """Why the guard or the budget stopped the run, in a sentence (None otherwise)."""
        return self.run.detail


def build_team(
    clients: TeamModelClients,
    *,
    researcher_tools: Sequence[BaseTool[Any, Any]] = (),
    developer_tools: Sequence[BaseTool[Any, Any]] = (),
    limits: TeamLimits = TeamLimits(),
    prices: Mapping[str, TokenPrice] | None = None,
) -> tuple[SelectorGroupChat, TeamControls]:
    """A fresh team and its controls. Called again after a cancel or an error (AutoGen 0.7.5 teams do not
    resume cleanly after a cancel), then the session loads the saved state into it.

    `prices` (role -> USD per million tokens) enables `max_usd`. The Manager decides with its delegate() and
    finish() tools; each agent's model context shows it only what it needs (agents/manager/contexts.py), and
    tool definitions go out compacted (agents/manager/steering.py).

    Workers make one tool round per turn and do not restate it: routing sends the results to the Manager as
    they are when they answer, else the worker goes on, for up to `limits.max_tool_iterations` rounds in a row
    (agents/manager/tool_reports.py, agents/manager/routing.py)."""
    run = RunControl(BudgetTracker(clients.meter, limits.budget, prices or {}), max_stalls=limits.max_stalls)
    controls = TeamControls(run=run)
    delegate, finish = manager_tools(WORKERS)
    manager = AssistantAgent(
        MANAGER,
        model_client=SteeredChatCompletionClient(clients.manager, run, finish_tool=finish),
        system_message=prompts.MANAGER,
        description=prompts.DESCRIPTIONS[MANAGER],
        tools=[delegate, finish],
        tool_call_summary_formatter=summarize_call,
        model_context=ManagerContext(MANAGER, control=run, workers=WORKERS),
    )
    workers = [
        AssistantAgent(
            name,
            model_client=SteeredChatCompletionClient(client, run),
            system_message=system_message,
            description=prompts.DESCRIPTIONS[name],
            tools=list(tools),
            reflect_on_tool_use=False,
            max_tool_iterations=1,
            tool_call_summary_formatter=summarize_result,
            model_context=WorkerContext(name, manager=MANAGER, workers=WORKERS),
        )
        for name, client, system_message, tools in (
            (RESEARCHER, clients.researcher, prompts.RESEARCHER, researcher_tools),
            (DEVELOPER, clients.developer, prompts.DEVELOPER, developer_tools),
        )
    ]
    termination = build_termination(
        manager=MANAGER,
        workers=WORKERS,
        control=run,
        max_messages=limits.max_messages,
        timeout_s=limits.run_timeout_s,
        pause=controls.pause,
        cause=controls.cause,
    )
    team = SelectorGroupChat(
        [manager, *workers],
        model_client=FallbackSelectorClient(clients.selector, speaker=MANAGER),
        termination_condition=termination,
        selector_prompt=prompts.SELECTOR_PROMPT,
        selector_func=make_selector(
            MANAGER,
            WORKERS,
            run,
            deterministic=limits.deterministic_selector,
            max_tool_rounds=limits.max_tool_iterations,
        ),
        allow_repeated_speaker=True,
        emit_team_events=True,
        model_context=BufferedChatCompletionContext(SELECTOR_HISTORY),
    )
    return team, controls
