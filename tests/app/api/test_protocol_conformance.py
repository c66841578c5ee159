"""Every message the server sends on its error paths validates against the schema it serves at /protocol.json.

Driven as a client would: bad frames, no model key, model 500 / 429 / timeout, a failing tool, cancel, a store
that refuses a row mid-run, an interrupted run; on /ws/team, /ws/voice and REST. A schema that drifted from
the code (an error code missing from the enum, a field the server adds) fails here with the message shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from jsonschema import Draft202012Validator
from sqlalchemy import insert

from app.store.run_store import now_iso
from app.store.schema import events as events_table
from tests.fakes.chat import ErrorReply, delay, rate_limited
from tests.support.live_server import ScriptBook, live_app, make_settings, openai_app, scripted_app
from tests.support.scripted import Hang, Script, paris_script, tool_call
from tests.support.voice.client import live_settings, live_spoke_answer, open_voice, spoken_with_answer, voice_app


class Schemas:
    def __init__(self, protocol: dict[str, Any], openapi: dict[str, Any]) -> None:
        self.team = Draft202012Validator(protocol["server_to_client"])
        self.voice = Draft202012Validator(protocol["voice"]["server_to_client"])
        self.openapi = openapi
        self.checked = 0

    def check_team(self, frames: Iterable[dict[str, Any]]) -> None:
        for frame in frames:
            errors = [e.message for e in self.team.iter_errors(frame)]
            assert not errors, f"/ws/team frame off the published schema: {json.dumps(frame)[:400]}: {errors[:2]}"
            self.checked += 1

    def check_voice(self, frames: Iterable[dict[str, Any]]) -> None:
        for frame in frames:
            errors = [e.message for e in self.voice.iter_errors(frame)]
            assert not errors, f"/ws/voice frame off the published schema: {json.dumps(frame)[:400]}: {errors[:2]}"
            self.checked += 1

    def check_rest(self, component: str, body: Any) -> None:
        validator = Draft202012Validator({**self.openapi, "$ref": f"#/components/schemas/{component}"})
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, f"REST {component} off its OpenAPI schema: {errors[:2]}"
        self.checked += 1


async def schemas_of(server: Any) -> Schemas:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        protocol = (await http.get("/protocol.json")).json()
        openapi = (await http.get("/openapi.json")).json()
    return Schemas(protocol, openapi)


async def check_runs_over_rest(server: Any, schemas: Schemas) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        page = (await http.get("/runs")).json()
        schemas.check_rest("RunPage", page)
        for run in page["runs"]:
            schemas.check_rest("Run", (await http.get(f"/runs/{run['run_id']}")).json())
            events = (await http.get(f"/runs/{run['run_id']}/events")).json()
            schemas.check_rest("RunEvents", events)
            schemas.check_team(events["events"])
        missing = await http.get("/runs/run_missing")
        assert missing.status_code == 404
        schemas.check_rest("NotFound", missing.json())


BAD_FRAMES: list[str | bytes | dict[str, Any]] = [
    "not json",
    b"\x00\x01",
    {"type": "dance"},
    {"no": "type"},
    {"type": "task"},
    {"type": "task", "text": "   "},
    {"type": "resume", "id": "r1"},
    {"type": "pause", "id": "p1"},
    {"type": "cancel"},
    {"type": "status", "id": "s1"},
    {"type": "ping", "id": "x"},
    "x" * 70_000,
]


async def test_bad_frames_no_key_and_voice_errors_follow_the_schema(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, ScriptBook(paris_script))
    async with live_app(app) as server:
        schemas = await schemas_of(server)
        client = await server.connect()
        for frame in BAD_FRAMES:
            await client.send(frame)
        await client.send({"type": "task", "text": "Weather in Paris?"})
        await client.until_type("run_finished")
        for _ in range(60):  # past the rate limit
            await client.send({"type": "ping"})
        await client.until(lambda e: e["type"] == "error" and e["data"]["code"] == "rate_limited")
        await client.close()
        codes = {e["data"]["code"] for e in client.received if e["type"] == "error"}
        assert {"invalid_json", "binary_not_supported", "unknown_type", "invalid_message", "not_paused"} <= codes
        assert {"frame_too_large", "no_active_run", "rate_limited"} <= codes
        schemas.check_team(client.received)
        await check_runs_over_rest(server, schemas)
    no_key = make_settings(tmp_path / "nokey", openai_api_key=None)
    from app.main import create_app

    async with live_app(create_app(no_key, configure_logs=False)) as server:
        client = await server.connect()
        await client.send({"type": "task", "text": "Weather?"})
        await client.until(lambda e: e["type"] == "error" and e["data"]["code"] == "no_model_access")
        await client.close()
        schemas.check_team(client.received)
        async with websockets.connect(f"{server.ws_url}/ws/voice") as voice:
            frames: list[str | bytes] = [
                '{"type": "text", "text": "hi"}',
                "nope",
                b"\x01",
                '{"type": "ping"}',
                '{"type": "x"}',
            ]
            for frame in frames:
                await voice.send(frame)
            voice_frames: list[dict[str, Any]] = []
            while not any(f.get("type") == "error" and f.get("code") == "unknown_type" for f in voice_frames):
                voice_frames.append(json.loads(await voice.recv()))
        schemas.check_voice(voice_frames)
    print(f"\nprotocol conformance: {schemas.checked} messages validated against /protocol.json and /openapi.json")


FAULTS: dict[str, tuple[Any, ...]] = {
    "model_error": (ErrorReply(500, "upstream exploded"),),
    "model_rate_limited": (rate_limited(0.05),),
    "model_timeout": (delay(3.0, "late\nTERMINATE"),),
}


@pytest.mark.parametrize("code", list(FAULTS))
async def test_model_faults_follow_the_schema(tmp_path: Path, fake_openai: Any, code: str) -> None:
    fake_openai.chat.add("manager", *FAULTS[code])
    app = openai_app(tmp_path, fake_openai, model_max_retries=0, model_timeout_s=0.3)
    async with live_app(app) as server:
        schemas = await schemas_of(server)
        client = await server.connect()
        await client.send({"type": "task", "text": "Weather in Paris?"})
        done = await client.until_type("run_finished", timeout=20)
        await client.close()
        assert done["data"]["stop_reason"] == "error" and done["data"]["error_code"] == code
        schemas.check_team(client.received)
        await check_runs_over_rest(server, schemas)


async def test_tool_failure_cancel_store_failure_and_interruption_follow_the_schema(tmp_path: Path) -> None:
    paris = paris_script(runs=2)
    tool_fails = Script(  # then two Paris runs: one the store fails, one that must complete
        manager=["Look it up.\nNEXT AGENT: Researcher", "The lookup failed.\nTERMINATE", *paris.manager],
        researcher=[tool_call("broken_lookup", query="x"), "The lookup service crashed.", *paris.researcher],
    )
    hangs = Script(manager=[Hang()])
    book = ScriptBook(paris_script)
    book.queue = [tool_fails, hangs, Script(manager=[Hang()])]
    async with live_app(scripted_app(tmp_path, book)) as server:
        schemas = await schemas_of(server)
        client = await server.connect()
        await client.send({"type": "task", "text": "Look something up"})
        finished = await client.until_type("run_finished")
        assert "crashed" in json.dumps([e for e in client.received if e["type"] == "ToolCallExecutionEvent"])
        assert finished["data"]["stop_reason"] == "completed"
        other = await server.connect()
        await other.send({"type": "task", "text": "Hang please"})
        await other.until(lambda e: e["type"] == "system" and e["data"].get("state") == "running")
        await other.send({"type": "cancel"})
        cancelled = await other.until_type("run_finished")
        assert cancelled["data"]["stop_reason"] == "cancelled"
        # The store refuses one of the next run's rows (a conflicting seq): the run ends as error, clearly.
        session_id = client.received[0]["session_id"]
        taken = client.received[-1]["seq"] + 5
        async with server.services.store.engine.begin() as conn:
            await conn.execute(
                insert(events_table).values(
                    session_id=session_id,
                    seq=taken,
                    run_id=None,
                    type="system",
                    created_at=now_iso(),
                    payload=json.dumps(
                        {
                            "source": "system",
                            "type": "system",
                            "seq": taken,
                            "run_id": None,
                            "session_id": session_id,
                            "timestamp": now_iso(),
                            "data": {"event": "state", "state": "idle", "message": "injected"},
                        }
                    ),
                )
            )
        await client.send({"type": "task", "text": "Weather in Paris?"})
        failed = await client.until_type("run_finished")
        assert failed["data"]["stop_reason"] == "error" and failed["data"]["error_code"] == "store_unavailable"
        await client.send({"type": "task", "text": "Weather in Paris, again?"})
        again = await client.until_type("run_finished")
        assert again["data"]["stop_reason"] == "completed"  # the session takes the next task normally
        schemas.check_team(client.received + other.received)
        # A run left active by a server that died is closed as interrupted at the next start.
        stuck = await server.connect()
        await stuck.send({"type": "task", "text": "Hang please"})
        await stuck.until_type("run_started")
        server.services.registry._table.take_all()  # simulate a crash: the session vanishes without finishing
        await stuck.close()
        await client.close()
        await other.close()
    async with live_app(scripted_app(tmp_path, ScriptBook(paris_script))) as server:
        late = await server.connect(session=stuck.received[0]["session_id"], after=0)
        told = await late.until(lambda e: e["type"] == "run_finished" and e["data"]["stop_reason"] == "interrupted")
        assert told["data"]["error_code"] == "interrupted"
        await late.close()
        schemas.check_team(late.received)
        await check_runs_over_rest(server, schemas)


@pytest.mark.parametrize("backend", ["realtime", "live"])
async def test_voice_conversation_follows_the_schema(tmp_path: Path, fake_openai: Any, backend: str) -> None:
    """A whole spoken question on each voice backend, plus bad input: every /ws/voice frame is in the schema,
    and the team events it carries are in the /ws/team schema."""
    book = ScriptBook(lambda: paris_script(researcher_delay=0.1))
    voice_settings = live_settings() if backend == "live" else None
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=voice_settings)) as server:
        schemas = await schemas_of(server)
        voice = await open_voice(server)
        for bad in ("nope", '{"type": "dance"}', '{"type": "playback"}', b"\x01"):
            await voice.send(bad)
        if backend == "live":
            await fake_openai.live.asay("What's the weather in Paris right now?")
            await fake_openai.live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        else:
            await fake_openai.realtime.aspeak_user("What's the weather in Paris right now?")
            await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished")
        await voice.close()
        assert {m["type"] for m in voice.messages} >= {"voice.state", "team", "error", "caption", "voice.usage"}
        schemas.check_voice(voice.messages)
        schemas.check_team(m["event"] for m in voice.messages if m["type"] == "team")
        await check_runs_over_rest(server, schemas)
