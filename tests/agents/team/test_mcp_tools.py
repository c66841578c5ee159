"""The team using tools from a local MCP server (a stdio server in tests/fixtures) in a scripted run: results
reach the model, a failing tool is reported to it, long output is trimmed, a server that cannot start is left
out (the run still works), and the server process sees no secrets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from autogen_core import FunctionCall
from autogen_core.models import CreateResult

from agents.team.mcp_tools import load_mcp_servers
from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.paths import FIXTURES
from tests.support.scripted import Script, tool_call

FIXTURE = FIXTURES / "mcp_stdio_server.py"
ANSWER = "Lyon has 522,250 inhabitants. Source: https://fixture.example/lyon"


def servers_file(tmp_path: Path) -> Path:
    path = tmp_path / "mcp_servers.json"
    path.write_text(
        json.dumps(
            {
                "researcher": [
                    {"name": "fixture", "transport": "stdio", "command": sys.executable, "args": [str(FIXTURE)]},
                    {"name": "ghost", "transport": "stdio", "command": str(tmp_path / "no-such-server")},
                ]
            }
        )
    )
    return path


def _round(*calls: CreateResult) -> CreateResult:
    """Several tool calls in one model reply."""
    content = [call for result in calls for call in result.content if isinstance(call, FunctionCall)]
    return CreateResult(finish_reason="function_calls", content=content, usage=calls[0].usage, cached=False)


def lyon_script() -> Script:
    return Script(
        # The cited URL is no tool's output: the Manager is asked once to fix it, and keeps it (unverified).
        manager=["TASK: Find the population of Lyon.\nNEXT AGENT: Researcher", *[f"{ANSWER}\nTERMINATE"] * 2],
        researcher=[
            # One round of four calls (a worker makes one tool round per turn, agents/manager/tool_reports.py); the failed
            # call makes the Researcher report in its own words.
            _round(
                tool_call("fixture_city_population", city="Lyon"),
                tool_call("fixture_broken", query="boom"),
                tool_call("fixture_long_text", size=40000),
                tool_call("fixture_env_keys"),
            ),
            "Lyon: 522,250 inhabitants (https://fixture.example/lyon).",
        ],
    )


async def test_the_team_uses_a_local_mcp_servers_tools_in_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "must-not-leak")
    book = ScriptBook(lyon_script)
    app = scripted_app(tmp_path, book, mcp_servers=servers_file(tmp_path))
    async with live_app(app) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "How many people live in Lyon?"})
        seen: list[dict[str, Any]] = []

        def keep(event: dict[str, Any]) -> bool:
            seen.append(event)
            return bool(event["type"] == "run_finished")

        done = await client.until(keep, timeout=60)
        results = {
            item["name"]: item["content"]
            for event in seen
            if event["type"] == "ToolCallExecutionEvent"
            for item in event["data"]["content"]
        }
        await client.close()
    assert done["data"]["stop_reason"] == "completed" and ANSWER in done["data"]["final_answer"]
    assert "522,250 inhabitants" in results["fixture_city_population"]
    assert results["fixture_broken"].startswith("Error:") and "broken" in results["fixture_broken"]  # told, not raised
    assert len(results["fixture_long_text"]) <= 4000 and "more characters not shown" in results["fixture_long_text"]
    assert results["fixture_env_keys"] == "none"  # the stdio server got the SDK's safe environment only


def test_a_bad_servers_file_says_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text("researcher:\n  - name: web\n    transport: streamable-http\n")
    with pytest.raises(ValueError, match="streamable-http needs a url"):
        load_mcp_servers(path)
