"""MCP sessions per user (issue 22): one user's flood of `initialize` calls must not lock everyone out of /mcp,
and a session is usable only by the user who opened it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import ScriptBook, live_app, scripted_app
from tests.support.mcp_client import ALICE, BOB, HEADERS, INITIALIZE, initialize, list_tools
from tests.support.scripted import paris_script


async def test_one_user_cannot_fill_the_mcp_session_table_or_use_another_users_session(tmp_path: Path) -> None:
    app = scripted_app(
        tmp_path, ScriptBook(paris_script), app_users={"alice": ALICE, "bob": BOB}, mcp_sessions_per_user=5
    )
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        answers = [await initialize(http, ALICE) for _ in range(200)]
        opened = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(opened) == 5 and len(refused) == 195, {r.status_code for r in answers}
        assert "MCP_SESSIONS_PER_USER" in refused[0].json()["error"]["message"]
        assert server.app.state.services is not None
        bob = await initialize(http, BOB)  # everyone else is still served
        assert bob.status_code == 200
        alices = opened[0].headers["mcp-session-id"]
        stolen = await list_tools(http, BOB, alices)
        assert stolen.status_code == 404  # another user's session answers as if absent
        deleted = await http.delete(
            "/mcp", headers={**HEADERS, "Authorization": f"Bearer {BOB}", "mcp-session-id": alices}
        )
        assert deleted.status_code == 404
        own = await list_tools(http, ALICE, alices)
        assert own.status_code == 200 and "ask_team" in own.text  # still alice's, untouched
        ended = await http.delete(
            "/mcp", headers={**HEADERS, "Authorization": f"Bearer {ALICE}", "mcp-session-id": alices}
        )
        assert ended.status_code in (200, 204)
        assert (await initialize(http, ALICE)).status_code == 200  # a place is free again


async def test_idle_mcp_sessions_are_closed(tmp_path: Path) -> None:
    import asyncio

    app = scripted_app(tmp_path, ScriptBook(paris_script), mcp_session_idle_s=0.5, mcp_sessions_per_user=1)
    async with live_app(app) as server, httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        first = await http.post("/mcp", json=INITIALIZE, headers=HEADERS)
        assert first.status_code == 200
        assert (await http.post("/mcp", json=INITIALIZE, headers=HEADERS)).status_code == 429
        await asyncio.sleep(1.5)
        session: dict[str, Any] = {"mcp-session-id": first.headers["mcp-session-id"]}
        gone = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers={**HEADERS, **session}
        )
        assert gone.status_code == 404, json.dumps(gone.text)
        assert (await http.post("/mcp", json=INITIALIZE, headers=HEADERS)).status_code == 200
