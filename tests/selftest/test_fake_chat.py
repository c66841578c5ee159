"""Self-tests of the fake chat completions (tests/fakes/chat), driven through the real openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.fakes import (
    ChatScript,
    FakeOpenAI,
    default_role_of,
    delay,
    dynamic,
    rate_limited,
    server_error,
    tool_call,
    tool_calls,
)

MANAGER_PROMPT = "You are the Manager of a small research team."
RESEARCHER_PROMPT = "You are the Researcher of a small research team led by the Manager."


# ---- chat completions --------------------------------------------------------------------------------


def _messages(system: str, user: str = "What is the weather in Paris?") -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def test_chat_scripted_text_reply_with_usage(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", "Find the weather in Paris.\nNEXT AGENT: Researcher")
    messages = _messages(MANAGER_PROMPT)
    reply = await client.chat.completions.create(model="gpt-6-luna", reasoning_effort="none", messages=messages)
    assert reply.choices[0].message.content == "Find the weather in Paris.\nNEXT AGENT: Researcher"
    assert reply.choices[0].finish_reason == "stop"
    expected_prompt = -(-sum(len(m["content"]) for m in messages) // 4)
    assert reply.usage.prompt_tokens == expected_prompt
    assert reply.usage.completion_tokens == -(-len(reply.choices[0].message.content) // 4)
    assert fake.chat.roles() == ["manager"]
    assert fake.chat.usage("manager")["total_tokens"] == reply.usage.total_tokens
    assert fake.chat.calls("manager")[0].model == "gpt-6-luna"


async def test_chat_streaming_text_and_tool_calls(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add(
        "researcher",
        "It is 18 C and sunny in Paris.",
        tool_calls(("web_search", {"query": "weather Paris"}), ("wikipedia_search", {"query": "Paris"})),
    )
    stream = await client.chat.completions.create(
        model="gpt-6-luna",
        reasoning_effort="none",
        messages=_messages(RESEARCHER_PROMPT),
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "It is 18 C and sunny in Paris."
    assert usage is not None and usage.completion_tokens == -(-len(text) // 4)

    stream = await client.chat.completions.create(
        model="gpt-6-luna",
        reasoning_effort="none",
        messages=_messages(RESEARCHER_PROMPT),
        stream=True,
        tools=[{"type": "function", "function": {"name": "web_search"}}],
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    async for chunk in stream:
        assert chunk.usage is None  # no include_usage: no usage chunk
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("web_search", {"query": "weather Paris"}),
        ("wikipedia_search", {"query": "Paris"}),
    ]
    assert fake.chat.calls("researcher")[1].tool_names == ["web_search"]


async def test_chat_tool_call_reply(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))
    reply = await client.chat.completions.create(
        model="gpt-6-luna", reasoning_effort="none", messages=_messages(RESEARCHER_PROMPT)
    )
    (call,) = reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "web_search" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"query": "current weather in Paris"}


async def test_chat_error_paths(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", server_error(), rate_limited(retry_after=2))
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    # With retries, the SDK honours Retry-After and the next scripted reply answers.
    fake.chat.add("manager", rate_limited(retry_after=0.05), "Recovered.")
    async with fake.async_client(max_retries=1) as retrying:
        reply = await retrying.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    assert reply.choices[0].message.content == "Recovered."
    assert [r.status for r in fake.chat.calls("manager")] == [500, 429, 429, 200]


async def test_chat_empty_queue_fails_loudly_naming_the_role(fake: FakeOpenAI, client: Any) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna",
            reasoning_effort="none",
            messages=_messages("You are the Developer of a small research team."),
        )
    assert "'developer'" in str(caught.value)
    assert [r.role for r in fake.chat.unscripted] == ["developer"]
    assert any("unscripted chat request" in p for p in fake.problems())


async def test_chat_roles_delay_dynamic_and_auth(fake: FakeOpenAI, client: Any) -> None:
    selector = [
        {
            "role": "system",
            "content": "Select the next role to speak.\nRoles:\nManager: plans\n\n"
            "Read the above conversation. Then select the next role from ['Manager', 'Researcher'] to play. "
            "Only return the role.",
        }
    ]
    assert default_role_of({"messages": selector}) == "selector"
    assert default_role_of({"messages": _messages(RESEARCHER_PROMPT)}) == "researcher"
    assert default_role_of({"messages": [{"role": "user", "content": "hi"}]}) == "unknown"
    fake.chat.add("selector", delay(0.05), "Researcher")
    fake.chat.add("manager", dynamic(lambda body: f"{len(body['messages'])} messages"))
    picked = await client.chat.completions.create(model="gpt-6-luna", reasoning_effort="none", messages=selector)
    assert picked.choices[0].message.content == "Researcher"
    counted = await client.chat.completions.create(
        model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
    )
    assert counted.choices[0].message.content == "2 messages"
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        denied = await http.post("/chat/completions", json={"model": "m", "messages": []})
        models = await http.get("/models", headers={"Authorization": "Bearer sk-test"})
    assert denied.status_code == 401 and "didn't provide an API key" in denied.json()["error"]["message"]
    assert any(m["id"] == "gpt-realtime-2.1" for m in models.json()["data"])


async def test_chat_rejects_unknown_parameters_like_the_api(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", "unused")
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT), extra_body={"max_turns": 3}
        )
    assert "Unrecognized request argument supplied: max_turns" in str(caught.value)
    assert [p for _, p in fake.chat.rejected] == ["max_turns"] and fake.chat.script.remaining("manager") == 1


def test_sync_client_and_fixed_api_key() -> None:
    with FakeOpenAI(api_key="sk-right", chat=ChatScript().add("manager", "ok")) as fake:
        with fake.sync_client(api_key="sk-wrong-key-123") as wrong, pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(
                model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
            )
        with fake.sync_client(api_key="sk-right") as right:
            reply = right.chat.completions.create(
                model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
            )
        assert reply.choices[0].message.content == "ok"
        assert fake.auth_failures == [("/v1/chat/completions", "wrong key")]
