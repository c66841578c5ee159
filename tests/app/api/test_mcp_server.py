"""The team as an MCP server: the official `mcp` client against the running app (real uvicorn, scripted team)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, paris_script

TOKEN = "mcp-test-token-" + "0" * 24
QUESTION = "What's the weather in Paris right now?"


def mcp_client(url: str, token: str | None, statuses: list[int] | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def record(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    http = httpx2.AsyncClient(
        headers=headers, timeout=httpx2.Timeout(30.0, read=60.0), event_hooks={"response": [record]}
    )
    return Client(streamable_http_client(url, http_client=http), raise_exceptions=True)


async def test_mcp_client_lists_tools_asks_the_team_with_progress_and_reads_runs(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.05)), app_token=TOKEN)
    async with live_app(app) as server:
        url = f"{server.http_url}/mcp"
        async with mcp_client(url, TOKEN) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert {"ask_team", "get_run", "list_runs"} <= set(tools)
            assert "question" in tools["ask_team"].input_schema["properties"]

            reported: list[tuple[float, str | None]] = []

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                reported.append((progress, message))

            result = await client.call_tool("ask_team", {"question": QUESTION}, progress_callback=on_progress)
            assert not result.is_error, result.content
            answer: dict[str, Any] = result.structured_content or {}
            assert PARIS_ANSWER in answer["answer"] and answer["complete"] is True
            assert PARIS_SOURCE in answer["sources"]
            messages = [m for _, m in reported]
            assert any(m and "searches the web" in m for m in messages), messages  # the Researcher's tool call
            assert [v for v, _ in reported] == sorted(v for v, _ in reported)

            listed = (await client.call_tool("list_runs", {})).structured_content or {}
            assert [r["run_id"] for r in listed["runs"]] == [answer["run_id"]]
            run = (await client.call_tool("get_run", {"run_id": answer["run_id"]})).structured_content or {}
            assert run["status"] == "completed" and run["task"] == QUESTION
            missing = await client.call_tool("get_run", {"run_id": "run_nope"})
            assert missing.is_error


async def test_mcp_is_refused_without_a_valid_token(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_token=TOKEN)
    async with live_app(app) as server:
        url = f"{server.http_url}/mcp"
        for token in (None, "wrong-token-" + "1" * 20):
            statuses: list[int] = []
            with pytest.raises(Exception):  # noqa: B017 - the SDK reports it as a generic MCPError in groups
                async with mcp_client(url, token, statuses) as client:
                    await client.list_tools()
            assert statuses and set(statuses) == {401}
        async with httpx2.AsyncClient() as http:
            response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert response.status_code == 401
        assert len(server.services.registry) == 0  # no session was created for anyone


async def test_a_user_sees_only_their_own_runs_over_mcp(tmp_path: Path) -> None:
    users = {"alice": "alice-token-" + "a" * 24, "bob": "bob-token-" + "b" * 24}
    app = scripted_app(tmp_path, ScriptBook(paris_script), app_users=users)
    async with live_app(app) as server:
        url = f"{server.http_url}/mcp"
        async with mcp_client(url, users["alice"]) as alice:
            asked = (await alice.call_tool("ask_team", {"question": QUESTION})).structured_content or {}
        async with mcp_client(url, users["bob"]) as bob:
            assert ((await bob.call_tool("list_runs", {})).structured_content or {})["runs"] == []
            assert (await bob.call_tool("get_run", {"run_id": asked["run_id"]})).is_error


async def test_a_client_that_goes_away_cancels_its_run(tmp_path: Path) -> None:
    import asyncio

    app = scripted_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=30)), app_token=TOKEN)
    async with live_app(app) as server:
        url = f"{server.http_url}/mcp"
        async with mcp_client(url, TOKEN) as client:
            call = asyncio.create_task(client.call_tool("ask_team", {"question": QUESTION}))
            for _ in range(100):
                runs = await server.services.store.list_runs(owner="owner", limit=5)
                if runs:
                    break
                await asyncio.sleep(0.05)
            assert runs and runs[0]["status"] == "running"
            call.cancel()
            with pytest.raises(BaseException):  # noqa: B017 - cancelled, however the SDK wraps it
                await call
        for _ in range(100):
            run = await server.services.store.get_run(runs[0]["run_id"], owner="owner")
            if run and run["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert run is not None and run["stop_reason"] == "cancelled"
