"""The team as an AutoGen component (JSON) that loads back: `research-team export-team`.

AutoGen serialises a SelectorGroupChat without its selector_func (a Python function), so our routing would be
lost on the round trip. Here the team is a `RoutedSelectorGroupChat`: the same SelectorGroupChat with the routing
rules as data in its config (`routing: {manager, workers, deterministic}`), turned back into the selector
function (agents/manager/routing.py) when loaded. Our tools are closures over settings that AutoGen cannot serialise
as source code, so each one is a `ProjectTool` by name and role, resolved to the real tool when loaded
(`TOOL_RESOLVERS`; the Developer's code tool needs the server's sandbox, so a loader registers one for it).

What the export holds: the three agents (names, descriptions, system prompts, model names and base URL, tools,
tool iterations), the selector model and prompt, routing, and the termination (the Manager's TERMINATE, the
message cap, the time limit). What it does not hold, because the server adds it to every session it builds:
the run budget and stall guard, metering, the agents' model contexts (agents/manager/contexts.py), the
Manager's delegate/finish steering, and the workers' one tool round per turn with trimmed results
(agents/manager/tool_reports.py; AutoGen's component JSON holds no formatter function): a loaded team's workers
make up to `max_tool_iterations` tool rounds in a turn and then restate them (AutoGen's `reflect_on_tool_use`).
No API key is ever written: a loaded team reads OPENAI_API_KEY from the environment like the openai SDK does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Self

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import ChatAgent, Team, TerminationCondition
from autogen_agentchat.conditions import (
    FunctionCallTermination,
    MaxMessageTermination,
    TextMentionTermination,
    TimeoutTermination,
)
from autogen_agentchat.teams import SelectorGroupChat
from autogen_agentchat.teams._group_chat._selector_group_chat import SelectorGroupChatConfig
from autogen_core import CancellationToken, Component, ComponentModel
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool
from pydantic import BaseModel

from agents.manager.routing import make_selector
from agents.manager.tools import FINISH, manager_tools
from agents.team import prompts
from agents.team.build import DEVELOPER, MANAGER, RESEARCHER, WORKERS

Role = Literal["manager", "researcher", "developer"]
ToolResolver = Callable[[str], BaseTool[Any, Any]]
TOOL_RESOLVERS: dict[str, ToolResolver] = {}  # role -> name -> tool; "manager" and "researcher" have defaults


class RoutingRules(BaseModel):
    manager: str
    workers: list[str]
    deterministic: bool = True


class RoutedSelectorGroupChatConfig(SelectorGroupChatConfig):
    routing: RoutingRules


class RoutedSelectorGroupChat(SelectorGroupChat, Component[RoutedSelectorGroupChatConfig]):
    """SelectorGroupChat whose speaker selection is our routing, kept as data in its component config."""

    component_config_schema = RoutedSelectorGroupChatConfig  # type: ignore[assignment]  # a subclass of the parent's
    component_provider_override = "agents.team.export.RoutedSelectorGroupChat"

    def __init__(
        self,
        participants: list[ChatAgent | Team],
        model_client: ChatCompletionClient,
        *,
        routing: RoutingRules,
        **kwargs: Any,
    ):
        selector = make_selector(routing.manager, routing.workers, deterministic=routing.deterministic)
        super().__init__(participants, model_client, selector_func=selector, **kwargs)
        self.routing = routing

    def _to_config(self) -> RoutedSelectorGroupChatConfig:
        return RoutedSelectorGroupChatConfig(**super()._to_config().model_dump(), routing=self.routing)

    @classmethod
    def _from_config(cls, config: RoutedSelectorGroupChatConfig) -> Self:  # type: ignore[override]  # see class
        participants: list[ChatAgent | Team] = [ChatAgent.load_component(p) for p in config.participants]
        return cls(
            participants,
            ChatCompletionClient.load_component(config.model_client),
            routing=config.routing,
            name=config.name,
            description=config.description,
            termination_condition=TerminationCondition.load_component(config.termination_condition)
            if config.termination_condition
            else None,
            max_turns=config.max_turns,
            selector_prompt=config.selector_prompt,
            allow_repeated_speaker=config.allow_repeated_speaker,
            max_selector_attempts=config.max_selector_attempts,
            emit_team_events=config.emit_team_events,
            model_client_streaming=config.model_client_streaming,
        )


class ProjectToolConfig(BaseModel):
    role: Role
    name: str


class ProjectTool(BaseTool[BaseModel, Any], Component[ProjectToolConfig]):
    """One of our tools by name; the real implementation is resolved when the team is loaded."""

    component_type = "tool"
    component_config_schema = ProjectToolConfig
    component_provider_override = "agents.team.export.ProjectTool"

    def __init__(self, inner: BaseTool[Any, Any], role: Role) -> None:
        super().__init__(inner.args_type(), inner.return_type(), inner.name, inner.description)
        self.inner, self.role = inner, role

    async def run(self, args: BaseModel, cancellation_token: CancellationToken) -> Any:
        return await self.inner.run(args, cancellation_token)

    def _to_config(self) -> ProjectToolConfig:
        return ProjectToolConfig(role=self.role, name=self.name)

    @classmethod
    def _from_config(cls, config: ProjectToolConfig) -> Self:
        return cls(resolve_tool(config.role, config.name), config.role)


def resolve_tool(role: str, name: str) -> BaseTool[Any, Any]:
    resolver = TOOL_RESOLVERS.get(role) or _default_resolver(role)
    return resolver(name)


def _default_resolver(role: str) -> ToolResolver:
    if role == "manager":
        return _by_name(manager_tools(WORKERS), role)
    if role == "researcher":
        from tools import build_researcher_tools
        from tools.config import ToolSettings

        return _by_name(build_researcher_tools(ToolSettings()), role)

    def missing(name: str) -> BaseTool[Any, Any]:
        raise LookupError(f"No tool {name!r} for the {role}: register a resolver in agents.team.export.TOOL_RESOLVERS")

    return missing


def _by_name(tools: Sequence[BaseTool[Any, Any]], role: str) -> ToolResolver:
    found = {tool.name: tool for tool in tools}

    def resolve(name: str) -> BaseTool[Any, Any]:
        if name not in found:
            raise LookupError(f"The {role} has no tool {name!r} (it has: {', '.join(sorted(found))})")
        return found[name]

    return resolve


def _strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items() if k not in ("api_key", "azure_ad_token")}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


def export_component(team: RoutedSelectorGroupChat) -> dict[str, Any]:
    """The team's component JSON, with no API key in it."""
    data: dict[str, Any] = team.dump_component().model_dump(mode="json")
    return _strip_secrets(data)  # type: ignore[no-any-return]


def load_team(data: dict[str, Any]) -> RoutedSelectorGroupChat:
    team = Team.load_component(ComponentModel.model_validate(data))
    if not isinstance(team, RoutedSelectorGroupChat):
        raise ValueError("not an exported research team (expected agents.team.export.RoutedSelectorGroupChat)")
    return team


def portable_team(
    clients: dict[str, ChatCompletionClient],
    tools: dict[Role, Sequence[BaseTool[Any, Any]]],
    *,
    max_messages: int,
    run_timeout_s: float,
    max_tool_iterations: int,
    deterministic: bool,
) -> RoutedSelectorGroupChat:
    """The team as it can be exported: the same agents, prompts, tools, routing and termination as
    agents/team/build.py builds, from serialisable parts only."""

    def agent(name: str, role: Role, system_message: str, iterations: int) -> AssistantAgent:
        return AssistantAgent(
            name,
            model_client=clients[role],
            system_message=system_message,
            description=prompts.DESCRIPTIONS[name],
            tools=[ProjectTool(t, role) for t in tools.get(role, ())],
            reflect_on_tool_use=role != "manager",
            max_tool_iterations=iterations,
        )

    termination = (
        TextMentionTermination("TERMINATE", sources=[MANAGER])
        | FunctionCallTermination(FINISH)
        | MaxMessageTermination(max_messages)
        | TimeoutTermination(run_timeout_s)
    )
    return RoutedSelectorGroupChat(
        [
            agent(MANAGER, "manager", prompts.MANAGER, 1),
            agent(RESEARCHER, "researcher", prompts.RESEARCHER, max_tool_iterations),
            agent(DEVELOPER, "developer", prompts.DEVELOPER, max_tool_iterations),
        ],
        clients["selector"],
        routing=RoutingRules(manager=MANAGER, workers=list(WORKERS), deterministic=deterministic),
        termination_condition=termination,
        selector_prompt=prompts.SELECTOR_PROMPT,
        allow_repeated_speaker=True,
        emit_team_events=True,
    )
