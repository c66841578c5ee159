"""Scripted model clients and tools for offline tests of the team.

ScriptedClient is AutoGen's ReplayChatCompletionClient plus two script items: Slow (answer after a delay)
and Hang (never answer: only a cancel ends it), so tests can pause or cancel in the middle of a model call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autogen_core import EVENT_LOGGER_NAME, FunctionCall
from autogen_core.models import CreateResult, LLMMessage, ModelFamily, ModelInfo, RequestUsage
from autogen_core.tools import FunctionTool
from autogen_ext.models.replay import ReplayChatCompletionClient

from agents.models.clients import TeamModelClients

# The replay client warns "Token count has been done only on string content" on every count: noise, not news.
logging.getLogger(EVENT_LOGGER_NAME).addFilter(lambda record: "Token count" not in record.getMessage())

TOOL_MODEL = ModelInfo(
    vision=False, function_calling=True, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
)


@dataclass
class Slow:
    seconds: float
    result: ScriptItem


@dataclass
class Hang:
    """The model never answers."""


ScriptItem = str | CreateResult | Slow | Hang


def tool_call(name: str, **arguments: Any) -> CreateResult:
    return CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id=f"call_{uuid.uuid4().hex[:8]}", name=name, arguments=json.dumps(arguments))],
        usage=RequestUsage(prompt_tokens=0, completion_tokens=12),
        cached=False,
    )


class ScriptedClient(ReplayChatCompletionClient):
    def __init__(self, script: Sequence[ScriptItem]) -> None:
        super().__init__(list(script), model_info=TOOL_MODEL)  # type: ignore[arg-type]
        self.hanging = 0

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        while self._current_index < len(self.chat_completions):
            item = self.chat_completions[self._current_index]
            if isinstance(item, Slow):
                await asyncio.sleep(item.seconds)
                self.chat_completions[self._current_index] = item.result  # type: ignore[assignment]  # Slow, Hang too
            elif isinstance(item, Hang):
                self.hanging += 1
                await asyncio.Event().wait()
            else:
                break
        return await super().create(messages, **kwargs)

    @property
    def calls(self) -> int:
        return len(self.create_calls)

    @property
    def remaining(self) -> int:
        return len(self.chat_completions) - self._current_index


@dataclass
class Script:
    """One scripted client per role."""

    manager: Sequence[ScriptItem] = ()
    researcher: Sequence[ScriptItem] = ()
    developer: Sequence[ScriptItem] = ()
    selector: Sequence[ScriptItem] = ()

    def clients(self) -> tuple[TeamModelClients, dict[str, ScriptedClient]]:
        raw = {role: ScriptedClient(getattr(self, role)) for role in ("manager", "researcher", "developer", "selector")}
        return TeamModelClients.wrap(dict(raw)), raw


PARIS_ANSWER = "The current weather in Paris is 18°C and partly cloudy, with a light south-west wind."
PARIS_SOURCE = "https://weather.example/paris"


def paris_script(*, manager_delay: float = 0.0, researcher_delay: float = 0.0, runs: int = 1) -> Script:
    """Manager delegates, Researcher searches the web, Manager ends it: the recorded failure, done right. The
    search answers the instruction, so its results reach the Manager as they are (no restating turn: issue 28).
    `researcher_delay` is how long the research takes: the Researcher's call, and as long again after its tool
    call (the Manager's answer waits it out, where the Researcher's restating turn was), so tests that act while
    the team works after the search still have the time they had."""

    def maybe_slow(item: str | CreateResult, delay: float) -> ScriptItem:
        return Slow(delay, item) if delay else item

    return Script(
        manager=[
            maybe_slow("TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher", manager_delay),
            maybe_slow(f"{PARIS_ANSWER} Source: {PARIS_SOURCE}\nTERMINATE", manager_delay + researcher_delay),
        ]
        * runs,
        researcher=[
            maybe_slow(tool_call("web_search", query="current weather in Paris"), researcher_delay),
        ]
        * runs,
    )


async def web_search(query: str, max_results: int = 5) -> str:
    """Search the web (scripted for tests)."""
    return (
        f"Web Search Results for '{query}':\n1. Title: Paris weather now\n   Snippet: 18°C, partly cloudy\n"
        f"   URL: {PARIS_SOURCE}"
    )


async def slow_lookup(query: str) -> str:
    """A tool that takes a long time (scripted for cancel tests)."""
    await asyncio.sleep(30)
    return "too late"


async def broken_lookup(query: str) -> str:
    """A tool whose upstream fails (scripted for fault tests)."""
    raise RuntimeError(f"the lookup service crashed while parsing its reply for {query!r}")


def research_tools() -> list[FunctionTool]:
    return [
        FunctionTool(web_search, description="Search the web."),
        FunctionTool(slow_lookup, description="A slow lookup."),
        FunctionTool(broken_lookup, description="A lookup that fails."),
    ]


async def run_python(code: str) -> str:
    """Run Python (scripted: returns a fixed output)."""
    return "42"


def developer_tools(session_id: str) -> list[FunctionTool]:
    return [FunctionTool(run_python, description="Run Python code.")]
