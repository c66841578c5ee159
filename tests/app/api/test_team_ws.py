"""/ws/team through a real uvicorn server and a real WebSocket client, with scripted models."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.protocol import SERVER_EVENT
from tests.support.live_server import LiveServer, ScriptBook, live_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, Script, paris_script


def is_finished(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "run_finished")


async def test_paris_weather_over_websocket(tmp_path: Path) -> None:
    book = ScriptBook(paris_script)
    async with live_app(scripted_app(tmp_path, book)) as server:
        client = await server.connect()
        hello = await client.recv()
        assert hello["type"] == "system" and hello["data"]["event"] == "connected" and hello["seq"] is None
        await client.send({"type": "task", "text": "What's the weather in Paris?"})
        done = await client.until(is_finished)
        events = client.received[1:]
        for event in client.received:
            SERVER_EVENT.validate_python(event)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(events) + 1))  # numbered, in order, none missing
        kinds = [e["type"] for e in events]
        assert kinds[0] == "run_started"
        assert kinds.index("ToolCallRequestEvent") < kinds.index("ToolCallExecutionEvent") < kinds.index("run_finished")
        assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
        assert done["data"]["stop_reason"] == "completed"
        assert {e["run_id"] for e in events if e["type"] != "system"} == {done["run_id"]}
        assert book.raw[hello["data"]["session_id"]]["selector"].calls == 0
        # The run and its events are in the store, and readable over REST.
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            run = (await http.get(f"/runs/{done['run_id']}")).json()
            assert run["status"] == "completed" and run["final_answer"].startswith(PARIS_ANSWER)
            assert run["usage"]["model_calls"] == 3
            stored = (await http.get(f"/runs/{done['run_id']}/events")).json()["events"]
            assert [e["seq"] for e in stored] == [e["seq"] for e in events if e["run_id"] == done["run_id"]]
            listed = (await http.get("/runs")).json()["runs"]
            assert listed[0]["run_id"] == done["run_id"]
        await client.close()


async def test_user_message_alias_and_ping_status(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "ping", "id": "p1"})
        pong = await client.until_type("pong")
        assert pong["data"]["id"] == "p1" and pong["seq"] is None
        await client.send({"type": "user_message", "content": "Weather in Paris?"})
        await client.until(is_finished)
        await client.send({"type": "status"})
        status = await client.until_type("status")
        assert status["data"]["state"] == "idle" and status["data"]["usage"]["model_calls"] == 3
        await client.close()


async def test_pause_resume_over_websocket_loses_nothing(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.3)))) as server:
        client = await server.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        await client.until(lambda e: e["type"] == "TextMessage" and e["data"]["source"] == "Manager")
        await client.send({"type": "pause"})
        await client.until(lambda e: e["type"] == "system" and e["data"].get("state") == "paused")
        await client.send({"type": "resume"})
        done = await client.until(is_finished)
        assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
        await client.until(lambda e: e["type"] == "system" and e["data"].get("state") == "idle")
        numbered = [e["seq"] for e in client.received if e["seq"] is not None]
        assert numbered == list(range(1, numbered[-1] + 1))
        states = [e["data"]["state"] for e in client.received if e["type"] == "system" and e["seq"]]
        assert states == ["running", "pausing", "paused", "running", "idle"]
        await client.close()


async def test_reconnect_after_seq_returns_exactly_the_missed_events(tmp_path: Path) -> None:
    async with live_app(scripted_app(tmp_path, ScriptBook(lambda: paris_script(researcher_delay=0.2)))) as server:
        client = await server.connect()
        hello = await client.recv()
        session_id = hello["data"]["session_id"]
        await client.send({"type": "task", "text": "Weather in Paris?"})
        first = await client.until(lambda e: e["type"] == "ToolCallRequestEvent")
        await client.close()  # the person's network drops mid-run; the run goes on
        entry = server.services.registry.get(session_id, "local")
        await entry.session.wait_idle(timeout=10)
        all_events = [e for e in await _stored(server, session_id)]
        again = await server.connect(session=session_id, after=first["seq"])
        hello2 = await again.recv()
        assert hello2["data"]["resumed"] is True and hello2["data"]["session_id"] == session_id
        missed = [await again.recv() for _ in range(len(all_events) - first["seq"])]
        assert [e["seq"] for e in missed] == list(range(first["seq"] + 1, all_events[-1]["seq"] + 1))
        assert missed == all_events[first["seq"] :]  # byte-for-byte what was stored
        assert [e["type"] for e in missed[-2:]] == ["run_finished", "system"]
        with pytest.raises(asyncio.TimeoutError):
            await again.recv(timeout=0.3)  # nothing more, nothing twice
        # And the live stream follows the replay on the same connection.
        await again.send({"type": "status"})
        assert (await again.until_type("status"))["data"]["state"] == "idle"
        await again.close()


async def _stored(server: LiveServer, session_id: str) -> list[dict[str, Any]]:
    import json

    rows = await server.services.store.events_after(session_id, 0)
    return [json.loads(text) for _, text in rows]


async def test_twenty_concurrent_sessions_get_their_own_answers(tmp_path: Path) -> None:
    def script_for(n: int) -> Script:
        return Script(
            manager=[
                f"TASK: compute item {n}.\nNEXT AGENT: Developer",
                f"The answer for item {n} is {n * n}.\nTERMINATE",
            ],
            developer=[f"Computed: item {n} squared is {n * n}."],
        )

    book = ScriptBook()
    book.queue = [script_for(n) for n in range(20)]
    async with live_app(scripted_app(tmp_path, book)) as server:
        clients = []
        for _ in range(20):  # one at a time, so script n belongs to client n
            clients.append(await server.connect())
            await clients[-1].recv()
        for n, client in enumerate(clients):
            await client.send({"type": "task", "text": f"What is {n} squared?"})
        results = await asyncio.gather(*(c.until(is_finished, timeout=30) for c in clients))
        answers = [r["data"]["final_answer"] for r in results]
        assert answers == [f"The answer for item {n} is {n * n}." for n in range(20)]
        assert len({r["session_id"] for r in results}) == 20
        for client in clients:
            await client.close()


async def test_no_api_key_server_starts_and_says_what_to_set(tmp_path: Path) -> None:
    from app.main import create_app
    from tests.support.live_server import make_settings
    from tests.support.scripted import developer_tools, research_tools

    settings = make_settings(tmp_path, openai_api_key=None)
    app = create_app(settings, researcher_tools=research_tools(), developer_tools=developer_tools, configure_logs=False)
    async with live_app(app) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            health = (await http.get("/health")).json()
            assert health["status"] == "ok" and health["model_access"] is False
        client = await server.connect()
        hello = await client.recv()
        assert hello["data"]["model_access"] is False
        await client.send({"type": "task", "text": "Weather in Paris?"})
        error = await client.until_type("error")
        assert error["data"]["code"] == "no_model_access" and "OPENAI_API_KEY" in error["data"]["message"]
        await client.send({"type": "ping"})
        assert (await client.until_type("pong"))["type"] == "pong"
        await client.close()


async def test_restart_mid_run_marks_the_run_interrupted_and_tells_the_client(tmp_path: Path) -> None:
    script = paris_script()
    script.manager = [script.manager[0]]
    from tests.support.scripted import Hang

    script.researcher = [Hang()]
    async with live_app(scripted_app(tmp_path, ScriptBook(lambda: script))) as server:
        client = await server.connect()
        session_id = (await client.recv())["data"]["session_id"]
        await client.send({"type": "task", "text": "Weather in Paris?"})
        started = await client.until_type("run_started")
        last = await client.until(lambda e: e["type"] == "TextMessage" and e["data"]["source"] == "Manager")
        server.services.registry._table.take_all()  # simulate a crash: the sessions vanish without finishing
        await client.close()
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            run = (await http.get(f"/runs/{started['run_id']}")).json()
        assert run["status"] == "interrupted"
        client = await server.connect(session=session_id, after=last["seq"])
        await client.recv()
        told = await client.until(is_finished)
        assert told["run_id"] == started["run_id"] and told["data"]["stop_reason"] == "interrupted"
        await client.close()
