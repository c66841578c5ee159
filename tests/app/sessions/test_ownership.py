"""Two users: each sees, reads and controls only their own sessions and runs, on every route.

`RULES` names the ownership rule of every route the app serves; a route added without a rule fails
`test_every_route_has_an_ownership_rule`, and each rule is exercised below with two real users (APP_USERS)
against the real server: REST, /ws/team and /ws/voice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.support.live_server import LiveServer, ScriptBook, live_app, scripted_app
from tests.support.scripted import Hang, Script, paris_script

ALICE, BOB = "alice-" + "token-0123456789", "bob-" + "token-9876543210"

# path -> who may use it and what of it they see
RULES: dict[str, str] = {
    "/health": "open (status only without a token)",
    "/protocol.json": "open (the public schema)",
    "/": "open (the page)",
    "/index.html": "open (the page)",
    "/favicon.ico": "open (the page)",
    "/static/{path:path}": "open (the page)",
    "/openapi.json": "open (the API's public schema)",
    "/docs": "open (Swagger UI; every call it makes needs a token)",
    "/docs-assets/{name}": "open (Swagger UI's packaged files)",
    "/metrics": "authenticated (aggregate figures, no user's data)",
    "/mcp": "owner: its tools see the caller's runs only (tests/app/api/test_mcp_server.py per user)",
    "/session": "authenticated (mints a short-lived secret for the caller)",
    "/runs": "owner: the caller's runs only",
    "/runs/{run_id}": "owner: another user's run is 404",
    "/runs/{run_id}/events": "owner: another user's run is 404",
    "/ws/team": "owner: another user's ?session= is not_found and a fresh session",
    "/ws/voice": "owner: another user's ?session= is a fresh session",
    "/voice/config": "authenticated",
    "/voice/calls": "owner: the call runs on the caller's own session (another's ?session= is a fresh one)",
    "/voice/calls/{call_id}": "owner: another user's call is 404 (tests/app/realtime/test_webrtc_voice.py drives a real call)",
}


def all_routes(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if type(route).__name__ == "_IncludedRouter":
            yield from all_routes(route.original_router.routes)
        else:
            yield route


def test_every_route_has_an_ownership_rule(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script))
    paths = {route.path for route in all_routes(app.routes)}
    missing = paths - RULES.keys()
    assert not missing, f"routes without an ownership rule (add one to RULES and a check below): {missing}"


@pytest.fixture
async def two_users(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, ScriptBook]]:
    book = ScriptBook(lambda: paris_script(runs=3))
    app = scripted_app(tmp_path, book, app_users={"alice": ALICE, "bob": BOB})
    async with live_app(app) as server:
        yield server, book


async def connect(server: LiveServer, token: str, path: str = "/ws/team", **params: str) -> Any:
    query = "&".join([f"token={token}", *(f"{k}={v}" for k, v in params.items())])
    return await websockets.connect(f"{server.ws_url}{path}?{query}", max_size=None)


async def recv_until(ws: Any, predicate: Any, limit: int = 200) -> dict[str, Any]:
    for _ in range(limit):
        event: dict[str, Any] = json.loads(await ws.recv())
        if predicate(event):
            return event
    raise AssertionError("not received")


async def test_rest_routes_show_each_user_only_their_own(two_users: tuple[LiveServer, ScriptBook]) -> None:
    server, _ = two_users
    alice_ws = await connect(server, ALICE)
    hello = json.loads(await alice_ws.recv())
    assert hello["data"]["user"] == "alice"
    await alice_ws.send(json.dumps({"type": "task", "text": "Weather in Paris? (alice)"}))
    done = await recv_until(alice_ws, lambda e: e["type"] == "run_finished")
    await alice_ws.close()
    run_id = done["run_id"]
    as_alice = {"Authorization": f"Bearer {ALICE}"}
    as_bob = {"Authorization": f"Bearer {BOB}"}
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        assert [r["run_id"] for r in (await http.get("/runs", headers=as_alice)).json()["runs"]] == [run_id]
        assert (await http.get("/runs", headers=as_bob)).json()["runs"] == []
        assert (await http.get("/runs", params={"session_id": done["session_id"]}, headers=as_bob)).json()["runs"] == []
        for path in (f"/runs/{run_id}", f"/runs/{run_id}/events"):
            assert (await http.get(path, headers=as_alice)).status_code == 200
            theirs = await http.get(path, headers=as_bob)
            missing = await http.get(path.replace(run_id, "run_does_not_exist"), headers=as_bob)
            assert theirs.status_code == missing.status_code == 404  # as if it did not exist
            assert theirs.json()["detail"].replace(run_id, "X") == missing.json()["detail"].replace(
                "run_does_not_exist", "X"
            )
        for path in ("/runs", "/metrics", "/mcp", "/voice/config"):
            assert (await http.get(path)).status_code == 401, path
            assert (await http.get(path, headers={"Authorization": "Bearer not-a-user"})).status_code == 401
        assert (await http.post("/voice/calls", content=b"v=0")).status_code == 401
        assert (await http.delete("/voice/calls/call_x")).status_code == 401
        assert (await http.delete("/voice/calls/call_x", headers=as_bob)).status_code == 404
        assert (await http.post("/session")).status_code == 401
        for path in (
            "/",
            "/index.html",
            "/favicon.ico",
            "/static/js/main.js",
            "/protocol.json",
            "/openapi.json",
            "/docs",
        ):
            assert (await http.get(path)).status_code == 200, path
        assert (await http.get("/health")).json() == {"status": "ok"}


async def test_team_socket_never_reaches_another_users_session(two_users: tuple[LiveServer, ScriptBook]) -> None:
    server, book = two_users
    book.queue = [Script(manager=[Hang()])]  # alice's run stays active
    alice = await connect(server, ALICE)
    alice_session = json.loads(await alice.recv())["session_id"]
    await alice.send(json.dumps({"type": "task", "text": "A long job for alice"}))
    started = await recv_until(alice, lambda e: e["type"] == "run_started")
    bob = await connect(server, BOB, session=alice_session, after="0")
    hello = json.loads(await bob.recv())
    told = json.loads(await bob.recv())
    assert hello["session_id"] != alice_session and hello["data"]["resumed"] is False
    assert told["type"] == "error" and told["data"]["code"] == "not_found"
    for command in ("cancel", "pause"):
        await bob.send(json.dumps({"type": command}))
        refused = await recv_until(bob, lambda e: e["type"] == "error")
        assert refused["data"]["code"] == "no_active_run"  # bob's own (fresh) session has no run
    await bob.send(json.dumps({"type": "status"}))
    status = await recv_until(bob, lambda e: e["type"] == "status")
    assert status["data"]["run_id"] is None and status["session_id"] != alice_session
    assert all(started["run_id"] != e.get("run_id") for e in [hello, told, status])
    await alice.send(json.dumps({"type": "status"}))
    mine = await recv_until(alice, lambda e: e["type"] == "status")
    assert mine["data"]["state"] == "running" and mine["data"]["run_id"] == started["run_id"]  # untouched
    # alice herself may come back to her session, and gets what she missed
    again = await connect(server, ALICE, session=alice_session, after="0")
    back = json.loads(await again.recv())
    assert back["session_id"] == alice_session and back["data"]["resumed"] is True
    replay = await recv_until(again, lambda e: e["type"] == "run_started")
    assert replay["run_id"] == started["run_id"]
    for ws in (alice, bob, again):
        await ws.close()


async def test_voice_socket_never_reaches_another_users_session(two_users: tuple[LiveServer, ScriptBook]) -> None:
    server, _ = two_users
    alice = await connect(server, ALICE)
    alice_session = json.loads(await alice.recv())["session_id"]
    voice = await connect(server, BOB, path="/ws/voice", session=alice_session)
    first = json.loads(await voice.recv())
    assert first["type"] == "voice.state" and first["session_id"] != alice_session
    own = await connect(server, ALICE, path="/ws/voice", session=alice_session)
    assert json.loads(await own.recv())["session_id"] == alice_session
    for ws in (alice, voice, own):
        await ws.close()


async def test_session_caps_refuse_clearly(tmp_path: Path) -> None:
    app = scripted_app(
        tmp_path, ScriptBook(paris_script), max_sessions=3, max_sessions_per_user=2, app_users={"alice": ALICE}
    )
    async with live_app(app) as server:
        held = [await connect(server, ALICE) for _ in range(2)]
        for ws in held:
            await ws.recv()
        refused = await connect(server, ALICE)
        error = json.loads(await refused.recv())
        assert error["data"]["code"] == "too_many_sessions" and "2 open sessions" in error["data"]["message"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await refused.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        await held[0].close()  # a session that never ran is freed with its last connection
        again = await connect(server, ALICE)
        assert json.loads(await again.recv())["type"] == "system"
        for ws in (*held[1:], again):
            await ws.close()
