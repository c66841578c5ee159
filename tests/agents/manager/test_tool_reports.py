"""No turn that only restates (issue 28): a worker's tool round reaches the Manager as it is when it answers the
instruction, and the worker goes on where restating pays (agents/manager/tool_reports.py, routing rule 3, contexts)."""

from __future__ import annotations

import json

import pytest
from autogen_agentchat.messages import BaseChatMessage, TextMessage, ToolCallSummaryMessage
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResult, UserMessage

from agents.manager.contexts import ManagerContext
from agents.manager.routing import make_selector
from agents.manager.run_control import RunControl
from agents.manager.tool_reports import RESULT_CHARS, restate_reason, summarize_result
from agents.models.budget import BudgetTracker
from agents.models.metering import UsageMeter

WORKERS = ["Researcher", "Developer"]
INSTRUCTION = "Find the current weather in Paris: temperature, sky and wind."
HITS = (
    'Web results for "Paris weather now" from google:\n1. Paris weather now\n   Right now it is 18 °C and partly '
    "cloudy in Paris, with a light south-west wind.\n   URL: https://weather.example/paris"
)
LEADS = (
    'Web results for "Paris weather now" from google:\n1. Event Loop — Python 3.13.1 documentation\n   The event '
    "loop is the core of every asyncio application.\n   URL: https://docs.python.org/3/library/asyncio-eventloop.html"
)
PAGE = "Title: Paris weather now\nURL: https://weather.example/paris\n\n"


def round_of(tool: str, content: str, *, error: bool = False, source: str = "Researcher") -> ToolCallSummaryMessage:
    call = FunctionCall(id="c1", name=tool, arguments=json.dumps({"query": "x"}))
    result = FunctionExecutionResult(call_id="c1", name=tool, content=content, is_error=error)
    return ToolCallSummaryMessage(
        content=summarize_result(call, result), source=source, tool_calls=[call], results=[result]
    )


@pytest.mark.parametrize(
    "tool, content, error, reason",
    [
        ("web_search", HITS, False, None),  # the hits answer it: straight to the Manager
        ("web_search", LEADS, False, "leads"),  # hits about something else: the Researcher reads on
        ("web_search", "Search failed: timed out", True, "failed"),
        ("fetch_web_content", PAGE + "Right now it is 18 °C in Paris.", False, None),
        ("fetch_web_content", PAGE + "Day 1 in Paris. " * 200, False, "long page"),  # restating pays
        ("fetch_web_content", "Could not read https://weather.example/paris: 404", False, "failed"),
        ("wikipedia_search", "Alan Turing (1912-1954) ... URL: https://en.wikipedia.org/wiki/Alan_Turing", False, None),
        ("run_python", "Exit code 0 (success).\nOutput:\n16288.95", False, None),
        ("run_python", "Exit code 1 (error).\nOutput:\nTraceback ...", False, "failed"),  # the Developer fixes it
        ("run_python", "Exit code 0 (success).\nOutput:\n(no output; use print() to show results)", False, "failed"),
        ("run_python", "Exit code 0 (success).\nOutput:\n" + "1 " * 1000, False, "long output"),
    ],
)
def test_where_restating_pays(tool: str, content: str, error: bool, reason: str | None) -> None:
    assert restate_reason(round_of(tool, content, error=error), INSTRUCTION) == reason


def test_a_long_result_is_trimmed_with_every_url_kept() -> None:
    text = "1. A\n   " + "x" * RESULT_CHARS + "\n   URL: https://late.example/a\n2. B\n   URL: https://late.example/b"
    call = FunctionCall(id="c", name="web_search", arguments="{}")
    summary = summarize_result(call, FunctionExecutionResult(call_id="c", name="web_search", content=text))
    assert len(summary) < RESULT_CHARS + 100
    assert "https://late.example/a" in summary and "https://late.example/b" in summary and "trimmed" in summary
    assert summarize_result(call, FunctionExecutionResult(call_id="c", name="web_search", content=HITS)) == HITS


def delegated(instructions: str = INSTRUCTION) -> ToolCallSummaryMessage:
    call = FunctionCall(
        id="d", name="delegate", arguments=json.dumps({"agent": "Researcher", "instructions": instructions})
    )
    result = FunctionExecutionResult(call_id="d", name="delegate", content="Researcher is on it.")
    return ToolCallSummaryMessage(content="delegate", source="Manager", tool_calls=[call], results=[result])


def control() -> RunControl:
    return RunControl(BudgetTracker(UsageMeter()))


def thread(*rounds: ToolCallSummaryMessage) -> list[BaseChatMessage]:
    return [TextMessage(content="What's the weather in Paris?", source="user"), delegated(), *rounds]


def test_routing_sends_an_answering_round_to_the_manager_and_a_lead_back_to_its_worker() -> None:
    select = make_selector("Manager", WORKERS, control(), max_tool_rounds=3)
    assert select(thread(round_of("web_search", HITS))) == "Manager"
    assert select(thread(round_of("web_search", LEADS))) == "Researcher"
    long_page = round_of("fetch_web_content", PAGE + "Day 1 in Paris. " * 200)
    assert select(thread(round_of("web_search", LEADS), long_page)) == "Researcher"
    # At most max_tool_rounds rounds in a row: then the Manager gets what there is.
    assert select(thread(*[round_of("web_search", LEADS)] * 3)) == "Manager"


def test_with_the_selector_model_a_tool_loop_is_still_routed_by_rule() -> None:
    select = make_selector("Manager", WORKERS, control(), deterministic=False)
    assert select(thread(round_of("web_search", LEADS))) == "Researcher"
    assert select(thread(round_of("web_search", HITS))) is None  # the selector model chooses (the Manager)


async def test_the_manager_sees_only_the_last_word_of_a_worker_turn() -> None:
    context = ManagerContext("Manager", control=control(), workers=WORKERS)
    await context.add_message(UserMessage(content="What's the weather in Paris?", source="user"))
    await context.add_message(UserMessage(content="search hits (leads)", source="Researcher"))
    await context.add_message(UserMessage(content="Paris: 18 °C (https://weather.example/paris)", source="Researcher"))
    seen = [m.content for m in await context.get_messages()]
    assert seen == ["What's the weather in Paris?", "Paris: 18 °C (https://weather.example/paris)"]
