"""Counts model calls and tokens per role, and makes every model call cancellable.

Every team model client is wrapped in MeteredChatCompletionClient, so usage is exact (selector calls included)
instead of being guessed from messages, and a CancellationToken cancels the call even when the inner client
ignores it (ReplayChatCompletionClient does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelCapabilities,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.models.call_usage import CallDetails, collect_details

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelCall:
    """One finished (or failed) model call, for metrics and traces (app/core/telemetry.py)."""

    meter: UsageMeter
    role: str
    usage: RequestUsage | None
    start_ns: int
    end_ns: int
    error: str | None = None  # the exception's type name when the call failed
    details: CallDetails | None = None  # cached input and reasoning tokens, when the provider reported them


ModelCallObserver = Callable[[ModelCall], None]
_observer: ModelCallObserver | None = None


def observe_model_calls(observer: ModelCallObserver | None) -> None:
    """Set the one process-wide observer of model calls (None removes it); it must not block."""
    global _observer
    _observer = observer


def _notify(call: ModelCall) -> None:
    if _observer is None:
        return
    try:
        _observer(call)
    except Exception:
        log.exception("model call observer failed")


@dataclass
class MeterUsage:
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, served from the provider's prompt cache
    reasoning_tokens: int = 0  # of completion_tokens (billed as output)

    def minus(self, other: MeterUsage) -> MeterUsage:
        return MeterUsage(
            self.model_calls - other.model_calls,
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.cached_prompt_tokens - other.cached_prompt_tokens,
            self.reasoning_tokens - other.reasoning_tokens,
        )

    def copy(self) -> MeterUsage:
        return MeterUsage(**self.as_dict())

    def as_dict(self) -> dict[str, int]:
        return {
            "model_calls": self.model_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass
class UsageMeter:
    """Running totals for one session, overall and per role."""

    total: MeterUsage = field(default_factory=MeterUsage)
    by_role: dict[str, MeterUsage] = field(default_factory=dict)

    def record(self, role: str, usage: RequestUsage | None, details: CallDetails | None = None) -> None:
        for bucket in (self.total, self.by_role.setdefault(role, MeterUsage())):
            bucket.model_calls += 1
            if usage is not None:
                bucket.prompt_tokens += usage.prompt_tokens
                bucket.completion_tokens += usage.completion_tokens
                if details is not None:  # never more than the call's own counts
                    bucket.cached_prompt_tokens += min(details.cached_prompt_tokens, usage.prompt_tokens)
                    bucket.reasoning_tokens += min(details.reasoning_tokens, usage.completion_tokens)

    def snapshot(self) -> MeterUsage:
        return self.total.copy()

    def calls(self, role: str) -> int:
        return self.by_role.get(role, MeterUsage()).model_calls


class DelegatingChatCompletionClient(ChatCompletionClient):
    """A wrapper around another client: everything but create/create_stream/close goes to `_inner`.
    Subclasses (metering here, steering in agents/manager/steering.py) override the calls they change."""

    _inner: ChatCompletionClient

    def actual_usage(self) -> RequestUsage:
        return self._inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self._inner.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = []) -> int:
        return self._inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._inner.capabilities

    @property
    def model_info(self) -> ModelInfo:
        return self._inner.model_info


class MeteredChatCompletionClient(DelegatingChatCompletionClient):
    """Delegates to an inner client, recording each call in a UsageMeter under a role name."""

    def __init__(
        self, inner: ChatCompletionClient, meter: UsageMeter, role: str, *, extra: Mapping[str, Any] | None = None
    ) -> None:
        """`extra`: create args added to every call unless the caller sets them (the role's prompt_cache_key)."""
        self._inner = inner
        self._meter = meter
        self._role = role
        self._extra = dict(extra or {})

    @property
    def inner(self) -> ChatCompletionClient:
        return self._inner

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        with collect_details() as details:  # filled by the OpenAI client's response hook (agents/models/call_usage.py)
            call = asyncio.ensure_future(
                self._inner.create(
                    messages,
                    tools=tools,
                    tool_choice=tool_choice,
                    json_output=json_output,
                    extra_create_args={**self._extra, **extra_create_args},
                    cancellation_token=cancellation_token,
                )
            )
        if cancellation_token is not None:
            cancellation_token.link_future(call)
        start = time.time_ns()
        try:
            result = await call
        except BaseException as exc:
            _notify(ModelCall(self._meter, self._role, None, start, time.time_ns(), type(exc).__name__))
            raise
        self._meter.record(self._role, result.usage, details)
        _notify(ModelCall(self._meter, self._role, result.usage, start, time.time_ns(), details=details))
        return result

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        async for chunk in self._inner.create_stream(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args={**self._extra, **extra_create_args},
            cancellation_token=cancellation_token,
        ):
            if isinstance(chunk, CreateResult):
                self._meter.record(self._role, chunk.usage)
                _notify(ModelCall(self._meter, self._role, chunk.usage, time.time_ns(), time.time_ns()))
            yield chunk

    async def close(self) -> None:
        await self._inner.close()
