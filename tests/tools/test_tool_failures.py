"""A tool that cannot do its job fails as a failure everywhere (issue 24): the call is flagged `is_error` so the
model is told, /metrics counts `outcome="error"`, the CLI's step line says "failed". Before, an unreachable search
read "web_search returned 268 characters", `is_error: false`, `outcome="ok"`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from autogen_core import CancellationToken

from app.core.steps import describe_step
from app.main import create_app
from tests.fakes.chat import tool_call
from tests.support.fixture_server import FixtureServer
from tests.support.fixture_server import make_settings as tool_settings
from tests.support.live_server import live_app, make_settings
from tests.support.scripted import developer_tools
from tools import build_researcher_tools
from tools.failure import ToolFailed, ToolFailure


async def test_the_tool_raises_with_the_same_words(fixture_server: FixtureServer, tmp_path: Path) -> None:
    dead = tool_settings(fixture_server, tmp_path, ddg_url="http://127.0.0.1:9/html/")  # nothing listens on 9
    search = next(t for t in build_researcher_tools(dead) if t.name == "web_search")
    with pytest.raises(ToolFailed, match="Web search is not available right now"):
        await search.run_json({"query": "weather Paris", "max_results": 3}, CancellationToken())
    from tools.web_search import web_search

    text = await web_search("weather Paris", 3, settings=dead)
    assert isinstance(text, ToolFailure) and text.startswith("Web search is not available")  # callers read words


async def test_a_failed_search_is_a_failure_in_its_event_metrics_and_steps(
    fixture_server: FixtureServer, tmp_path: Path, fake_openai: Any
) -> None:
    dead = tool_settings(fixture_server, tmp_path, ddg_url="http://127.0.0.1:9/html/")
    fake_openai.chat.add(
        "manager",
        tool_call("delegate", {"agent": "Researcher", "instructions": "Find the weather in Paris."}),
        tool_call("finish", {"answer": "The search is down, so I cannot say.", "sources": []}),
    )
    fake_openai.chat.add("researcher", tool_call("web_search", {"query": "weather Paris"}), "Search is unavailable.")
    settings = make_settings(tmp_path, openai_api_key="sk-fake-test-key", openai_base_url=fake_openai.base_url)
    app = create_app(
        settings, researcher_tools=build_researcher_tools(dead), developer_tools=developer_tools, configure_logs=False
    )
    async with live_app(app) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        await client.until_type("run_finished", timeout=30)
        executed = next(
            e
            for e in client.received
            if e["type"] == "ToolCallExecutionEvent" and e["data"]["content"][0].get("name") == "web_search"
        )
        result = executed["data"]["content"][0]
        assert result["is_error"] is True and "Web search is not available" in result["content"]
        step = describe_step(executed)
        assert step is not None and "failed" in step
        second = fake_openai.chat.calls("researcher")[1].messages  # the model was told it failed
        # Chat Completions has no error flag on a tool message: the model reads the failure in its words.
        assert any(m["role"] == "tool" and "Web search is not available" in m["content"] for m in second)
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            metrics = (await http.get("/metrics")).text
        assert re.search(
            r'research_team_tool_call_duration_seconds_count\{outcome="error",tool="web_search"\} [1-9]', metrics
        )
        await client.close()
