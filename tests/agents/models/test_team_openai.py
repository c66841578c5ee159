"""The team with AutoGen's real OpenAIChatCompletionClient and the openai SDK, against the fake OpenAI server:
proves the pinned autogen-ext and openai versions work together, and that settings reach the clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.chat import ErrorReply, tool_call
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import live_app, openai_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE


@pytest.mark.fake_openai(extra_models=["my-local-model"])  # an OpenAI-compatible server's own model name
async def test_paris_run_through_the_openai_sdk(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        "TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher",
        f"{PARIS_ANSWER} Source: {PARIS_SOURCE}\nTERMINATE",
    )
    chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))  # answers as it is
    async with live_app(openai_app(tmp_path, fake_openai, manager_model="my-local-model")) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until(lambda e: e["type"] == "run_finished", timeout=20)
        assert done["data"]["stop_reason"] == "completed", done
        assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
        assert chat.count("selector") == 0 and chat.count("manager") == 2 and chat.count("researcher") == 1
        usage = chat.usage()
        assert done["data"]["usage"] == {
            "model_calls": 3,
            "prompt_tokens": usage["prompt_tokens"],
            "completion_tokens": usage["completion_tokens"],
            "cached_prompt_tokens": sum(r.cached_tokens for r in chat.requests),
            "reasoning_tokens": 0,
        }
        models = {r.role: r.body["model"] for r in chat.requests}
        assert models["manager"] == "my-local-model"  # a model name AutoGen does not know still works
        tools = [t["function"]["name"] for t in chat.calls("researcher")[0].body["tools"]]
        assert "web_search" in tools
        # The tool result reached the Manager as it is: the Researcher's report, with its URL.
        second = chat.calls("manager")[1].body["messages"]
        assert any(
            m["role"] == "user" and m.get("name") == "Researcher" and PARIS_SOURCE in m["content"] for m in second
        )
        await client.close()
    fake_openai.assert_clean()


async def test_model_api_error_ends_the_run_and_session_stays_usable(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    chat = fake_openai.chat
    chat.add(
        "manager",
        ErrorReply(status=500, message="upstream exploded"),
        ErrorReply(status=500, message="upstream exploded"),
    )
    chat.add("manager", "Paris is sunny.\nTERMINATE")
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather?"})
        error = await client.until_type("error", timeout=20)
        assert error["data"]["code"] == "model_error" and "sk-fake" not in json.dumps(error)
        failed = await client.until(lambda e: e["type"] == "run_finished")
        assert failed["data"]["stop_reason"] == "error"
        await client.send({"type": "task", "text": "Weather?"})
        ok = await client.until(lambda e: e["type"] == "run_finished" and e["run_id"] != failed["run_id"], timeout=20)
        assert ok["data"]["final_answer"] == "Paris is sunny."
        await client.close()


async def test_sloppy_manager_is_answered_within_six_calls_through_the_server(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The recorded failure: a Manager that writes its answer in prose and forgets TERMINATE took 76 calls."""
    chat = fake_openai.chat
    chat.add(
        "manager",
        "TASK: Find the current weather in Paris.\nNEXT AGENT: Researcher",
        f"Here is the answer: 18°C and partly cloudy. Source: {PARIS_SOURCE}",
        tool_call("finish", {"answer": PARIS_ANSWER, "sources": [PARIS_SOURCE]}),
    )
    chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))
    async with live_app(openai_app(tmp_path, fake_openai)) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until(lambda e: e["type"] == "run_finished", timeout=20)
        assert done["data"]["stop_reason"] == "completed" and done["data"]["complete"] is True
        assert done["data"]["final_answer"] == PARIS_ANSWER
        assert done["data"]["usage"]["model_calls"] == 4 <= 6
        await client.close()
    fake_openai.assert_clean()
