"""Cached input and reasoning tokens per model call (agents/models/call_usage.py), read from the Chat Completions
response through AutoGen's real OpenAIChatCompletionClient and the openai SDK against the fake OpenAI server,
counted in the meter, and priced apart (agents/models/budget.py, app/core/prices.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from autogen_core.models import CreateResult, LLMMessage, RequestUsage, SystemMessage, UserMessage

from agents.models.budget import BudgetTracker, RunBudget, TokenPrice
from agents.models.call_usage import CallDetails
from agents.models.clients import ROLES, TeamModelClients, openai_client, uses_openai_api
from agents.models.metering import MeteredChatCompletionClient, MeterUsage, UsageMeter
from app.core.prices import ModelPrice, role_prices
from tests.fakes.chat import REASONING_TOKENS, ErrorReply
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import make_settings

LONG_RULES = "You are the Researcher. " + "Follow the house rules for citing sources carefully. " * 120  # ~1.6k tok


def metered(fake: FakeOpenAI, meter: UsageMeter, role: str, *, details: bool = True) -> MeteredChatCompletionClient:
    client = openai_client(
        "gpt-6-luna",
        reasoning_effort="none",
        api_key="sk-fake-test-key",
        base_url=fake.base_url,
        timeout=10,
        max_retries=1,
        usage_details=details,
    )
    return MeteredChatCompletionClient(client, meter, role)


async def ask(client: MeteredChatCompletionClient, question: str, **extra: str) -> CreateResult:
    messages: list[LLMMessage] = [SystemMessage(content=LONG_RULES), UserMessage(content=question, source="user")]
    return await client.create(messages, extra_create_args=extra)


async def test_cached_tokens_reach_the_meter(fake_openai: FakeOpenAI) -> None:
    fake_openai.chat.add("researcher", "one", "two")
    meter = UsageMeter()
    client = metered(fake_openai, meter, "researcher")
    await ask(client, "first question")
    assert meter.total.cached_prompt_tokens == 0  # nothing seen before
    await ask(client, "second question")
    first, second = fake_openai.chat.requests
    assert second.cached_tokens >= 1024  # the long system message is a cached prefix
    assert meter.total.cached_prompt_tokens == second.cached_tokens
    assert meter.total.prompt_tokens == first.prompt_tokens + second.prompt_tokens
    assert meter.by_role["researcher"].cached_prompt_tokens == second.cached_tokens
    assert meter.total.reasoning_tokens == 0
    await client.close()


async def test_without_the_hook_nothing_is_cached(fake_openai: FakeOpenAI) -> None:
    """The guard of the test above: the same calls through a client without the hook count no cached tokens."""
    fake_openai.chat.add("researcher", "one", "two")
    meter = UsageMeter()
    client = metered(fake_openai, meter, "researcher", details=False)
    await ask(client, "first question")
    await ask(client, "second question")
    assert fake_openai.chat.requests[1].cached_tokens >= 1024
    assert meter.total.cached_prompt_tokens == 0
    await client.close()


async def test_concurrent_calls_keep_their_own_details(fake_openai: FakeOpenAI) -> None:
    """One shared HTTP client, calls in parallel: each call's reasoning tokens land on its own role."""
    fake_openai.chat.add("researcher", "r1", "r2")
    meter = UsageMeter()
    client = metered(fake_openai, meter, "researcher")
    other = MeteredChatCompletionClient(client.inner, meter, "developer")  # same inner client, another role
    await asyncio.gather(ask(client, "a", reasoning_effort="high"), ask(other, "b", reasoning_effort="low"))
    assert meter.by_role["researcher"].reasoning_tokens == REASONING_TOKENS["high"]
    assert meter.by_role["developer"].reasoning_tokens == REASONING_TOKENS["low"]
    # Reasoning tokens are part of the completion tokens, as the API bills them.
    assert meter.by_role["researcher"].completion_tokens > REASONING_TOKENS["high"]
    assert meter.total.reasoning_tokens == REASONING_TOKENS["high"] + REASONING_TOKENS["low"]
    await client.close()


async def test_a_retried_call_reports_the_answer_that_counted(fake_openai: FakeOpenAI) -> None:
    fake_openai.chat.add("researcher", ErrorReply(500), "ok")
    meter = UsageMeter()
    client = metered(fake_openai, meter, "researcher")
    result = await ask(client, "q", reasoning_effort="medium")
    assert result.content == "ok"
    assert meter.total.model_calls == 1 and meter.total.reasoning_tokens == REASONING_TOKENS["medium"]
    await client.close()


async def test_a_streamed_call_still_counts_its_tokens(fake_openai: FakeOpenAI) -> None:
    fake_openai.chat.add("researcher", "streamed answer")
    meter = UsageMeter()
    client = metered(fake_openai, meter, "researcher")
    messages: list[LLMMessage] = [SystemMessage(content=LONG_RULES), UserMessage(content="q", source="user")]
    chunks = [
        c async for c in client.create_stream(messages, extra_create_args={"stream_options": {"include_usage": True}})
    ]
    assert isinstance(chunks[-1], CreateResult) and chunks[-1].content == "streamed answer"
    assert meter.total.prompt_tokens > 0 and meter.total.cached_prompt_tokens == 0  # streams: not read (see module)
    await client.close()


def test_cached_input_is_priced_apart() -> None:
    price = TokenPrice(2.0, 8.0, cached_input_per_million=0.5)
    usage = MeterUsage(model_calls=1, prompt_tokens=1_000_000, completion_tokens=100_000, cached_prompt_tokens=600_000)
    assert price.usd(usage) == pytest.approx(0.4 * 2.0 + 0.6 * 0.5 + 0.1 * 8.0)
    assert TokenPrice(2.0, 8.0).usd(usage) == pytest.approx(2.0 + 0.8)  # no cached price: all input at 2.0
    # Reasoning tokens are in completion_tokens already: counting them does not change the price.
    assert price.usd(MeterUsage(1, 1_000_000, 100_000, 600_000, reasoning_tokens=50_000)) == price.usd(usage)
    # A provider that reports more cached than prompt tokens cannot make the input cheaper than all cached.
    assert price.usd(MeterUsage(1, 100, 0, cached_prompt_tokens=500)) == pytest.approx(100 * 0.5 / 1e6)


def test_the_run_cost_prices_each_roles_cached_input() -> None:
    meter = UsageMeter()
    tracker = BudgetTracker(meter, RunBudget(max_usd=None), {"manager": TokenPrice(1.0, 4.0, 0.1)})
    meter.record("manager", RequestUsage(prompt_tokens=1_000_000, completion_tokens=0), CallDetails(800_000, 0))
    assert tracker.usd() == pytest.approx(0.2 * 1.0 + 0.8 * 0.1)
    spent = tracker.spent()
    assert spent["cached_prompt_tokens"] == 800_000 and spent["prompt_tokens"] == 1_000_000


def test_the_price_table_takes_a_cached_input_price(tmp_path: Path) -> None:
    table = {"m": ModelPrice(input=2.0, output=8.0, cached_input=0.5), "n": ModelPrice(input=1.0, output=2.0)}
    settings = make_settings(tmp_path, model_prices=table, manager_model="m", researcher_model="n")
    prices = role_prices(settings)
    assert prices["manager"] == TokenPrice(2.0, 8.0, cached_input_per_million=0.5)
    assert prices["researcher"].cached_input_per_million is None
    with pytest.raises(ValueError):
        ModelPrice(input=1.0, output=1.0, cached_input=-1.0)


async def test_each_role_sends_its_prompt_cache_key(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.chat.add("researcher", "one").add("manager", "two")
    inner = metered(fake_openai, UsageMeter(), "x").inner
    clients = TeamModelClients.wrap({role: inner for role in ROLES}, cache_keys=True)
    await ask(clients.researcher, "q")  # type: ignore[arg-type]
    plain = TeamModelClients.wrap({role: inner for role in ROLES})
    await plain.manager.create([SystemMessage(content="You are the Manager."), UserMessage(content="q", source="u")])
    keyed, unkeyed = fake_openai.chat.requests
    assert keyed.body["prompt_cache_key"] == "research-team-researcher"
    assert "prompt_cache_key" not in unkeyed.body
    fake_openai.assert_clean()  # a parameter the real API knows
    await inner.close()
    # Only OpenAI's own API gets the key: an OpenAI-compatible server might refuse an unknown parameter.
    assert uses_openai_api(make_settings(tmp_path, openai_base_url=None))
    assert uses_openai_api(make_settings(tmp_path, openai_base_url="https://api.openai.com/v1/"))
    assert not uses_openai_api(make_settings(tmp_path, openai_base_url="http://localhost:8000/v1"))
