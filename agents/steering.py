"""A model client wrapper that sets `tool_choice` from the run's state (AssistantAgent always sends "auto"),
and sends tool definitions without the noise pydantic adds.

- The Manager, when forced (see agents/run_control.py): "required" (delegate or finish), or the finish tool.
- A worker, once the run's budget is reached: "none", so it reports what it has instead of calling more tools.
Calls without tools pass unchanged (tool_choice only means something with tools).
- Every property of a tool schema loses its "title" (the property name again, capitalised) and a description
  that only repeats the name: tool definitions are a third of the team's prompt tokens.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.metering import DelegatingChatCompletionClient
from agents.run_control import Force, RunControl

ToolChoice = Tool | Literal["auto", "required", "none"]


def _name(tool: Tool | ToolSchema) -> str:
    return tool.schema["name"] if isinstance(tool, Tool) else tool["name"]


def compact_schema(tool: Tool | ToolSchema) -> ToolSchema:
    """The tool's schema without property titles and without descriptions that only repeat the name."""
    schema = tool.schema if isinstance(tool, Tool) else tool
    parameters = schema.get("parameters")
    if parameters is None:
        return schema
    properties = {
        name: {
            key: value
            for key, value in spec.items()
            if key != "title" and not (key == "description" and str(value).lower() == name.lower())
        }
        for name, spec in parameters.get("properties", {}).items()
    }
    compact = ToolSchema(name=schema["name"], parameters={**parameters, "properties": properties})
    if "description" in schema:
        compact["description"] = schema["description"]
    if "strict" in schema:
        compact["strict"] = schema["strict"]
    return compact


class SteeredChatCompletionClient(DelegatingChatCompletionClient):
    def __init__(
        self, inner: ChatCompletionClient, control: RunControl, *, finish_tool: Tool | None = None, compact: bool = True
    ) -> None:
        """`finish_tool` given: this is the Manager's client; else a worker's. `compact`: compact tool schemas."""
        self._inner = inner
        self._control = control
        self._finish = finish_tool
        self._compact = compact

    def _tools(self, tools: Sequence[Tool | ToolSchema]) -> Sequence[Tool | ToolSchema]:
        return [compact_schema(t) for t in tools] if self._compact else tools

    def choose(self, tools: Sequence[Tool | ToolSchema], asked: ToolChoice) -> ToolChoice:
        if not tools or asked != "auto":
            return asked
        control = self._control
        if self._finish is None:
            return "none" if control.wrap_up or control.tracker.exhausted() else asked
        if control.force == Force.FINISH and any(_name(t) == self._finish.name for t in tools):
            return self._finish
        if control.force is not None:
            return "required"
        return asked

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: ToolChoice = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        return await self._inner.create(
            messages,
            tools=self._tools(tools),
            tool_choice=self.choose(tools, tool_choice),
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: ToolChoice = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        async for chunk in self._inner.create_stream(
            messages,
            tools=self._tools(tools),
            tool_choice=self.choose(tools, tool_choice),
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        ):
            yield chunk

    async def close(self) -> None:
        """The session closes the clients it owns (TeamModelClients); a team's wrapper owns nothing."""
