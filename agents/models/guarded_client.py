"""A delegating client whose subclasses decide only what a failed call becomes (agents/models/errors.py turns
it into an error that names the setting, agents/models/selector_fallback.py into a rule's answer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from pydantic import BaseModel

from agents.models.metering import DelegatingChatCompletionClient


class GuardedChatCompletionClient(DelegatingChatCompletionClient):
    def on_error(self, exc: Exception) -> BaseException | CreateResult:
        """What a failed call becomes: another exception (raised from `exc`), a result, or `exc` itself."""
        return exc

    def _settle(self, exc: Exception) -> CreateResult:
        outcome = self.on_error(exc)
        if isinstance(outcome, CreateResult):
            return outcome
        if outcome is exc:
            raise exc
        raise outcome from exc

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
        try:
            return await self._inner.create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - on_error decides
            return self._settle(exc)

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
        try:
            async for chunk in self._inner.create_stream(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=extra_create_args,
                cancellation_token=cancellation_token,
            ):
                yield chunk
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - on_error decides
            yield self._settle(exc)

    async def close(self) -> None:
        await self._inner.close()
