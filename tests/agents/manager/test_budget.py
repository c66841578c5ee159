"""A budget per run: when it is reached the workers report without more tools, the Manager is asked to finish
with what it has, and the run ends labelled BUDGET with that answer."""

from __future__ import annotations

from typing import Any

import pytest
from autogen_core.models import RequestUsage

from agents.models.budget import BudgetTracker, RunBudget, TokenPrice
from agents.models.metering import UsageMeter
from agents.stop import StopReason
from agents.team.build import TeamLimits, build_team
from tests.fakes.chat import tool_call
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, developer_tools, paris_script, research_tools
from tests.support.team_driver import openai_team, run_task

WRAP_UP = tool_call("finish", {"answer": PARIS_ANSWER + " (from one search only)", "sources": [PARIS_SOURCE]})


async def test_budget_of_calls_ends_the_run_with_an_answer_from_what_was_found(fake_openai: Any) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        tool_call("delegate", {"agent": "Researcher", "instructions": "Find the current weather in Paris."}),
        WRAP_UP,
    )
    # The search spends the budget: its results go to the Manager as they are, and no worker calls again.
    chat.add("researcher", tool_call("web_search", {"query": "weather Paris"}))
    team, controls = openai_team(fake_openai)
    outcome = await run_task(team, controls, "Weather in Paris?", RunBudget(max_model_calls=2, max_tokens=None))
    assert outcome.stop_reason == StopReason.BUDGET
    assert controls.stop_detail == "The run's budget of 2 model calls was reached (2 used)."
    assert outcome.answer.text.startswith(PARIS_ANSWER) and outcome.answer.sources == [PARIS_SOURCE]
    assert chat.count("researcher") == 1
    # Forced turns with prompts too short to be cached send only the tools they can use (agents/manager/steering.py).
    finish_only = chat.calls("manager")[1]
    assert finish_only.body["tool_choice"] == {"type": "function", "function": {"name": "finish"}}
    assert finish_only.tool_names == ["finish"]
    assert "budget is spent" in finish_only.messages[-1]["content"]
    # One wrap-up call past the budget, no more.
    assert outcome.spent["model_calls"] == 3 == chat.count()
    fake_openai.assert_clean()


async def test_budget_of_tokens(fake_openai: Any) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        tool_call("delegate", {"agent": "Researcher", "instructions": "Find the current weather in Paris."}),
        WRAP_UP,
    )
    chat.add("researcher", tool_call("web_search", {"query": "weather Paris"}))
    team, controls = openai_team(fake_openai)
    first = await run_task(team, controls, "Weather in Paris?", RunBudget(max_model_calls=None, max_tokens=600))
    assert first.stop_reason == StopReason.BUDGET and first.spent["tokens"] >= 600
    assert chat.count() == 3
    # The next run starts from zero: it completes within the same budget.
    chat.add("manager", tool_call("finish", {"answer": "Still 18°C.", "sources": []}))
    second = await run_task(team, controls, "And now?", RunBudget(max_model_calls=None, max_tokens=5000))
    assert second.stop_reason == StopReason.COMPLETED and second.spent["model_calls"] == 1
    fake_openai.assert_clean()


async def test_default_budget_comes_from_team_limits_and_begin_run_resets_counters() -> None:
    script = paris_script(runs=2)
    clients, raw = script.clients()
    limits = TeamLimits(budget=RunBudget(max_model_calls=2, max_tokens=None))
    team, controls = build_team(
        clients, researcher_tools=research_tools(), developer_tools=developer_tools("s"), limits=limits
    )
    assert controls.budget.as_dict() == {"max_model_calls": 2, "max_tokens": None, "max_usd": None}
    # paris_script needs 3 calls; with 2 the scripted Manager's second reply is the wrap-up turn.
    outcome = await run_task(team, controls, "Weather in Paris?")
    assert outcome.stop_reason == StopReason.BUDGET and outcome.spent["model_calls"] == 3
    assert outcome.answer.text.startswith(PARIS_ANSWER)
    controls.begin_run(RunBudget(max_model_calls=10))
    assert controls.spent()["model_calls"] == 0
    again = await run_task(team, controls, "Weather in Paris again?", RunBudget(max_model_calls=10))
    assert again.stop_reason == StopReason.COMPLETED and again.spent["model_calls"] == 3


def test_usd_is_known_only_with_a_price_for_every_role_that_spent() -> None:
    meter = UsageMeter()
    tracker = BudgetTracker(meter, RunBudget(max_model_calls=None, max_tokens=None, max_usd=0.01))
    meter.record("manager", RequestUsage(prompt_tokens=1000, completion_tokens=100))
    assert tracker.spent()["usd"] is None and tracker.exhausted() is None  # no price table: not enforced
    priced = BudgetTracker(
        meter, RunBudget(max_model_calls=None, max_tokens=None, max_usd=0.01), {"manager": TokenPrice(0.4, 1.6)}
    )
    meter.record("manager", RequestUsage(prompt_tokens=20_000, completion_tokens=1_000))
    assert priced.spent()["usd"] == pytest.approx((20_000 * 0.4 + 1_000 * 1.6) / 1e6)
    assert priced.exhausted() is None
    meter.record("manager", RequestUsage(prompt_tokens=20_000, completion_tokens=0))
    assert priced.exhausted() == "usd"
    meter.record("researcher", RequestUsage(prompt_tokens=10, completion_tokens=1))
    assert priced.spent()["usd"] is None  # the researcher has no price: unknown, and not enforced
    assert priced.spent()["model_calls"] == 3 and priced.spent()["tokens"] == 41_011


async def test_budget_wrap_up_skips_the_selector_model_when_every_turn_asks_it(fake_openai: Any) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        tool_call("delegate", {"agent": "Researcher", "instructions": "Find the current weather in Paris."}),
        WRAP_UP,
    )
    chat.add("selector", "Manager", "Researcher")
    chat.add("researcher", tool_call("web_search", {"query": "weather Paris"}))
    team, controls = openai_team(fake_openai, TeamLimits(deterministic_selector=False))
    outcome = await run_task(team, controls, "Weather in Paris?", RunBudget(max_model_calls=4, max_tokens=None))
    assert outcome.stop_reason == StopReason.BUDGET
    # selector, Manager, selector, Researcher (budget reached), then the Manager without asking the selector.
    assert chat.roles() == ["selector", "manager", "selector", "researcher", "manager"]
    fake_openai.assert_clean()


def test_a_forced_turn_keeps_every_tool_when_its_prompt_can_be_cached() -> None:
    """Dropping definitions changes the prompt's first bytes: a prompt long enough to be cached keeps them all,
    so its cached prefix still applies; a short one (never cached) sends only what the turn can use."""
    from autogen_core.models import LLMMessage, SystemMessage, UserMessage

    from agents.manager.steering import CACHE_MIN_TOKENS, usable_tools
    from agents.manager.tools import manager_tools

    delegate, finish = manager_tools(["Researcher", "Developer"])
    tools = [delegate.schema, finish.schema]
    short: list[LLMMessage] = [
        SystemMessage(content="You are the Manager."),
        UserMessage(content="Weather?", source="user"),
    ]
    long: list[LLMMessage] = [*short, UserMessage(content="x" * 4 * CACHE_MIN_TOKENS, source="Researcher")]
    assert [t["name"] for t in usable_tools(short, tools, finish)] == ["finish"]  # type: ignore[index]
    assert usable_tools(short, tools, "none") == []
    assert usable_tools(long, tools, finish) == tools and usable_tools(long, tools, "none") == tools
    assert usable_tools(short, tools, "auto") == tools == usable_tools(short, tools, "required")
