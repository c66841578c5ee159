"""Every kind of bad input on /ws/team gets an error event with a code, and the connection keeps serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live_server import LiveServer, ScriptBook, live_app, scripted_app
from tests.support.scripted import PARIS_ANSWER, paris_script

CASES: dict[str, tuple[str | bytes, str]] = {
    "not_json": ("{this is not json", "invalid_json"),
    "binary": (b"\x00\x01\x02binary", "binary_not_supported"),
    "json_not_object": ("[1, 2, 3]", "invalid_message"),
    "missing_type": (json.dumps({"text": "hello"}), "invalid_message"),
    "unknown_type": (json.dumps({"type": "tool.output", "output": "x"}), "unknown_type"),
    "type_not_string": (json.dumps({"type": 7}), "unknown_type"),
    "task_missing_text": (json.dumps({"type": "task"}), "invalid_message"),
    "task_text_wrong_type": (json.dumps({"type": "task", "text": 42}), "invalid_message"),
    "task_text_blank": (json.dumps({"type": "task", "text": "   \n "}), "invalid_message"),
    "task_text_too_long": (json.dumps({"type": "task", "text": "x" * 9000}), "invalid_message"),
    "frame_too_large": (json.dumps({"type": "task", "text": "y" * 70_000}), "frame_too_large"),
    "pause_without_run": (json.dumps({"type": "pause"}), "no_active_run"),
    "resume_without_pause": (json.dumps({"type": "resume"}), "not_paused"),
    "cancel_without_run": (json.dumps({"type": "cancel"}), "no_active_run"),
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as live:
        yield live


@pytest.mark.parametrize("case", sorted(CASES))
async def test_bad_frame_gets_error_and_connection_keeps_serving(server: LiveServer, case: str) -> None:
    frame, code = CASES[case]
    client = await server.connect()
    await client.recv()
    await client.send(frame)
    error = await client.until_type("error")
    assert error["data"]["code"] == code, error
    assert error["data"]["message"]
    assert error["seq"] is None  # a reply to this connection, not part of the session log
    await client.send({"type": "ping", "id": "after-" + case})
    assert (await client.until_type("pong"))["data"]["id"] == "after-" + case
    await client.close()


async def test_error_echoes_request_id(server: LiveServer) -> None:
    client = await server.connect()
    await client.recv()
    await client.send({"type": "resume", "id": "req-9"})
    error = await client.until_type("error")
    assert error["data"] == {"code": "not_paused", "message": "The run is not paused.", "id": "req-9"}
    await client.close()


async def test_flood_is_rate_limited_and_the_run_still_completes(server: LiveServer) -> None:
    client = await server.connect()
    await client.recv()
    await client.send({"type": "task", "text": "Weather in Paris?"})
    for n in range(300):
        await client.send({"type": "status", "id": f"f{n}"})
    replies: list[dict[str, Any]] = []
    while len(replies) < 300:
        event = await client.recv()
        if event["seq"] is None:
            replies.append(event)
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["data"]["code"] == "rate_limited" for r in limited)
    assert len(limited) + len([r for r in replies if r["type"] == "status"]) == 300  # every frame answered
    done = await client.until(lambda e: e["type"] == "run_finished", timeout=15)
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
    await client.close()


async def test_other_clients_unaffected_by_a_bad_one(server: LiveServer) -> None:
    bad = await server.connect()
    await bad.recv()
    for frame, _ in CASES.values():
        await bad.send(frame)
    good = await server.connect()
    await good.recv()
    await good.send({"type": "task", "text": "Weather in Paris?"})
    done = await good.until(lambda e: e["type"] == "run_finished", timeout=15)
    assert done["data"]["final_answer"].startswith(PARIS_ANSWER)
    await bad.close()
    await good.close()


@pytest.mark.parametrize("query", ["after=abc", "after=-4", "session=bad%20id!"])
async def test_bad_query_parameters_get_an_error_then_close(server: LiveServer, query: str) -> None:
    async with websockets.connect(f"{server.ws_url}/ws/team?{query}") as conn:
        error = json.loads(await conn.recv())
        assert error["type"] == "error" and error["data"]["code"] == "invalid_message"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await conn.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_model_text_with_a_lone_surrogate_is_stored_and_delivered(tmp_path: Path) -> None:
    """A JSON API (a model, Wikipedia) can send "\\ud800": decoded, that is a lone surrogate, which UTF-8 cannot
    encode. It must not break the store's commit or the connection's writer: it arrives as U+FFFD."""
    script = paris_script()
    script.manager = [script.manager[0], "Paris is 18\ud800C today.\nTERMINATE"]
    async with live_app(scripted_app(tmp_path, ScriptBook(lambda: script))) as live:
        client = await live.connect()
        await client.recv()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = await client.until_type("run_finished")
        assert done["data"]["final_answer"] == "Paris is 18\ufffdC today."
        stored = await live.services.store.events_after(done["session_id"], 0)
        assert [seq for seq, _ in stored][-1] >= done["seq"]
        await client.send({"type": "ping", "id": "still-there"})
        assert (await client.until_type("pong"))["data"]["id"] == "still-there"
        await client.close()
