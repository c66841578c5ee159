"""Self-tests of the fake GPT-Live server (tests/fakes/live*.py), driven through the real openai SDK's
`client.live.connect()`: it must be at least as strict as the real service."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from openai.types.live import ServerEvent

from app.realtime.live.config import commentary, session_start, thinking
from tests.fakes.live.validation import validate_live_client_event
from tests.fakes.server import FakeOpenAI

SERVER_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ServerEvent)
START = session_start(model="gpt-live-1", voice="marin", acknowledgement_delay_ms=0)


async def recv_until(conn: Any, kind: str) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await conn.recv_bytes())
        SERVER_EVENT.validate_python(event)  # every server event parses with the SDK's own union
        if event["type"] == kind:
            return event


def test_validation_rejects_what_the_live_api_rejects() -> None:
    assert validate_live_client_event(START) == []
    bad_key = {**START, "session": {**START["session"], "turn_detection": {"type": "server_vad"}}}
    assert validate_live_client_event(bad_key)[0].param == "session.turn_detection"
    assert validate_live_client_event({"type": "tool.output"})[0].code == "invalid_value"
    no_id = {"type": "session.commentary.append", "content": "x"}
    assert validate_live_client_event(no_id)[0].param == "delegation_id"  # required, nullable
    assert validate_live_client_event(commentary("word " * 600, None))[0].code == "string_above_max_length"
    assert validate_live_client_event(thinking("progress", None)) == []


async def test_session_start_first_then_delegation_and_spoken_commentary(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.async_client()
    async with client.live.connect() as conn:
        await conn.send(thinking("too early", None))
        error = await recv_until(conn, "error")
        assert error["error"]["code"] == "session_not_started"
        await conn.send(START)
        started = await recv_until(conn, "session.started")
        assert started["session"]["delegation"]["type"] == "client"
        fake_openai.live.say("What's the weather in Paris?")
        delta = await recv_until(conn, "session.input_transcript.delta")
        assert delta["delta"].strip() == "What's"
        created = await recv_until(conn, "session.delegation.created")
        delegation_id = created["delegation"]["id"]
        await conn.send(commentary("Answer: 18 C and sunny. More detail.", delegation_id, "evt_1"))
        appended = await recv_until(conn, "session.commentary.appended")
        assert appended["client_event_id"] == "evt_1"
        await fake_openai.live.until(lambda lv: lv.spoken_text(), what="the commentary spoken")
        assert fake_openai.live.spoken_text() == ["18 C and sunny."]
        await conn.send({"type": "response.create"})
        refused = await recv_until(conn, "error")
        assert "requires Responses" in refused["error"]["message"]
    problems = fake_openai.live.problems()
    assert any("session_not_started" in p for p in problems) and any(
        "not_client_delegation" in p or "rejected" in p for p in problems
    )


async def test_delegation_ids_are_valid_only_on_their_connection(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.async_client()
    async with client.live.connect() as first:
        await first.send(START)
        await recv_until(first, "session.started")
        fake_openai.live.say("Weather in Paris?")
        delegation_id = (await recv_until(first, "session.delegation.created"))["delegation"]["id"]
    async with client.live.connect() as second:
        await second.send(START)
        await recv_until(second, "session.started")
        await second.send(commentary("Answer: 18 C.", delegation_id))
        error = await recv_until(second, "error")
        assert error["error"]["param"] == "delegation_id"
        await second.send(commentary("Answer: 18 C.", None))  # general commentary is fine
        await recv_until(second, "session.commentary.appended")
    assert any("foreign_delegation_id" in p for p in fake_openai.live.problems())


async def test_acknowledgement_is_spoken_unless_thinking_comes_first(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.async_client()
    async with client.live.connect() as conn:
        await conn.send(session_start(model="gpt-live-1", voice="marin", acknowledgement_delay_ms=300))
        await recv_until(conn, "session.started")
        fake_openai.live.say("First question?")
        first = (await recv_until(conn, "session.delegation.created"))["delegation"]["id"]
        await conn.send(thinking("The team started.", first))
        await recv_until(conn, "session.thinking.appended")
        fake_openai.live.say("Second question?")
        await recv_until(conn, "session.delegation.created")
        await recv_until(conn, "session.output_audio.delta")  # nothing came: the model acknowledges itself
        await fake_openai.live.until(lambda lv: lv.spoken_text("acknowledgement"), what="the acknowledgement")
    acks = [s for s in fake_openai.live.spoken if s.cause == "acknowledgement"]
    assert len(acks) == 1 and acks[0].delegation_id != first  # the first was cancelled by our thinking
    assert fake_openai.live.problems() == []


async def test_expired_session_sends_session_closed(fake_openai: FakeOpenAI) -> None:
    client = fake_openai.async_client()
    async with client.live.connect() as conn:
        await conn.send(START)
        await recv_until(conn, "session.started")
        fake_openai.live.expire_session()
        closed = await recv_until(conn, "session.closed")
        assert closed["reason"] == "expired"
