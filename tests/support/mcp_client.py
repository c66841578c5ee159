"""/mcp spoken as raw JSON-RPC over HTTP, the way a flood of clients would (the official `mcp` client drives it in
test_mcp_server.py): two users' tokens, `initialize`, and `tools/list` on a session."""

from __future__ import annotations

import httpx

ALICE, BOB = "alice-token-" + "a" * 24, "bob-token-" + "b" * 24
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


async def initialize(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/mcp", json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {token}"})


async def list_tools(http: httpx.AsyncClient, token: str, session: str) -> httpx.Response:
    headers = {**HEADERS, "Authorization": f"Bearer {token}", "mcp-session-id": session}
    await http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    return await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers)
