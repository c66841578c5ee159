"""A model client wrapper that sets `tool_choice` from the run's state (AssistantAgent always sends "auto"),
and sends tool definitions without the noise pydantic adds.

- The Manager, when forced (see agents/manager/run_control.py): "required" (delegate or finish), or the finish tool.
- A worker, once the run's budget is reached: "none", so it reports what it has instead of calling more tools.
Calls without tools pass unchanged (tool_choice only means something with tools).
- Every property of a tool schema loses its "title" (the property name again, capitalised) and a description
  that only repeats the name, and a non-strict tool its "additionalProperties": tool definitions are about half
  of the team's prompt tokens (bench/cost.py).
- A forced turn sends only the tools it can use (the forced function, or none) when its prompt is too short to
  be cached; a longer one keeps every definition, so the role's cached prefix still applies (`usable_tools`).
- The Manager makes one decision per turn (agents/manager/tools.py): its calls with tools ask for at most one
  tool call (`parallel_tool_calls: false`) where the model takes the parameter (`takes_parallel_tool_calls`),
  and each reply it gets is reported to the run's control (`RunControl.note_reply`: empty, cut off, filtered).
- A model that takes one system message at the start only (AutoGen refuses the call otherwise: models it does
  not know, `multiple_system_messages` False) gets the forced turn's closing note as a user message
  (`fit_system_messages`); without this, every forced turn of such a Manager ended the run with an error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.manager.run_control import Force, RunControl
from agents.models.errors import model_name
from agents.models.metering import DelegatingChatCompletionClient
from agents.models.openai_models import takes_parallel_tool_calls

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
    if not schema.get("strict") and "additionalProperties" in parameters:
        del compact["parameters"]["additionalProperties"]  # binds only strict tools; the model reads it as noise
    if "description" in schema:
        compact["description"] = schema["description"]
    if "strict" in schema:
        compact["strict"] = schema["strict"]
    return compact


CACHE_MIN_TOKENS = 1024  # OpenAI caches no prompt shorter than this


def usable_tools(
    messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema], choice: ToolChoice
) -> Sequence[Tool | ToolSchema]:
    """On a forced turn (one function, or "none"), the tools that turn can use, if the prompt is too short for
    the provider's prompt cache; else all of them.

    Tool definitions open the prompt, so a turn that sends fewer of them shares no cached prefix with the
    role's other calls: all its input is then billed at the full rate. Dropping definitions pays only when
    nothing would be cached anyway (under CACHE_MIN_TOKENS); above it, the cached prefix (billed at a tenth to
    a quarter of input) is worth more than the definitions saved. The estimate is 4 characters per token.
    """
    if choice == "auto" or choice == "required":
        return tools
    chars = sum(len(str(m.content)) for m in messages) + sum(len(json.dumps(_schema(t))) for t in tools)
    if chars / 4 >= CACHE_MIN_TOKENS:
        return tools
    return [] if choice == "none" else [t for t in tools if _name(t) == _name(choice)]


def fit_system_messages(messages: Sequence[LLMMessage], multiple: bool) -> Sequence[LLMMessage]:
    """`messages` for a model that takes system messages only at the start unless `multiple`: a later one
    (the forced turn's note, agents/manager/contexts.py) becomes a user message with the same words."""
    if multiple:
        return messages
    opening = next((i for i, m in enumerate(messages) if not isinstance(m, SystemMessage)), len(messages))
    return [
        UserMessage(content=m.content, source="system") if i > opening and isinstance(m, SystemMessage) else m
        for i, m in enumerate(messages)
    ]


def _schema(tool: Tool | ToolSchema) -> ToolSchema:
    return tool.schema if isinstance(tool, Tool) else tool


class SteeredChatCompletionClient(DelegatingChatCompletionClient):
    def __init__(self, inner: ChatCompletionClient, control: RunControl, *, finish_tool: Tool | None = None) -> None:
        """`finish_tool` given: this is the Manager's client; else a worker's."""
        self._inner = inner
        self._control = control
        self._finish = finish_tool
        self._one_call = finish_tool is not None and takes_parallel_tool_calls(model_name(inner, ""))

    def _create_args(self, tools: Sequence[Tool | ToolSchema], extra: Mapping[str, Any]) -> Mapping[str, Any]:
        """The Manager asks for one tool call at most (the API refuses the parameter on a call without tools)."""
        return {**extra, "parallel_tool_calls": False} if self._one_call and tools else extra

    def _fit(self, messages: Sequence[LLMMessage]) -> Sequence[LLMMessage]:
        return fit_system_messages(messages, bool(self.model_info.get("multiple_system_messages", False)))

    def _note(self, result: CreateResult) -> None:
        if self._finish is not None:
            self._control.note_reply(result.finish_reason, result.content)

    def _tools(
        self, messages: Sequence[LLMMessage], tools: Sequence[Tool | ToolSchema], choice: ToolChoice
    ) -> Sequence[Tool | ToolSchema]:
        """The definitions to send: compact ones; on a forced turn only those it can use, when that is cheaper
        (see `usable_tools`)."""
        return usable_tools(messages, [compact_schema(t) for t in tools], choice)

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
        choice = self.choose(tools, tool_choice)
        sent = self._tools(messages, tools, choice)
        result = await self._inner.create(
            self._fit(messages),
            tools=sent,
            tool_choice=choice,
            json_output=json_output,
            extra_create_args=self._create_args(sent, extra_create_args),
            cancellation_token=cancellation_token,
        )
        self._note(result)
        return result

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
        choice = self.choose(tools, tool_choice)
        sent = self._tools(messages, tools, choice)
        async for chunk in self._inner.create_stream(
            self._fit(messages),
            tools=sent,
            tool_choice=choice,
            json_output=json_output,
            extra_create_args=self._create_args(sent, extra_create_args),
            cancellation_token=cancellation_token,
        ):
            if isinstance(chunk, CreateResult):
                self._note(chunk)
            yield chunk

    async def close(self) -> None:
        """The session closes the clients it owns (TeamModelClients); a team's wrapper owns nothing."""
