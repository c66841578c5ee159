"""Self-tests of the fake Realtime API playing the narrator's conversation (ask_team, acknowledgement, summary,
truncation, failures, barge-in, drops), driven through the real openai SDK."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
import websockets

from tests.fakes import (
    FakeOpenAI,
    ResponsePlan,
    first_sentence,
)
from tests.fakes.common.audio import BYTES_PER_MS
from tests.support.voice.realtime_client import SERVER_EVENT, connect_narrator, next_event

# ---- realtime: the narrator's conversation -------------------------------------------------------------


async def test_narrator_turn_ask_team_ack_summary_and_truncate(fake: FakeOpenAI) -> None:
    conn = await connect_narrator(fake.async_client())
    await fake.realtime.aspeak_user("What is the weather in Paris?", audio_ms=1800)
    seen: list[Any] = []
    call_done = await next_event(conn, "response.output_item.done", seen)
    types = [e.type for e in seen]
    assert types[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    user_item = next(e.item for e in seen if e.type == "conversation.item.added")
    assert user_item.role == "user" and user_item.content[0].type == "input_audio"
    completed = next(e for e in seen if e.type == "conversation.item.input_audio_transcription.completed")
    assert completed.transcript == "What is the weather in Paris?" and completed.item_id == user_item.id
    stopped = next(e for e in seen if e.type == "input_audio_buffer.speech_stopped")
    started = next(e for e in seen if e.type == "input_audio_buffer.speech_started")
    assert stopped.audio_end_ms - started.audio_start_ms == 1800
    item = call_done.item
    assert (item.type, item.name, json.loads(item.arguments)) == (
        "function_call",
        "ask_team",
        {"task": "What is the weather in Paris?"},
    )
    await next_event(conn, "response.done")

    await conn.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": item.call_id,
                "output": json.dumps({"run_id": "run_1"}),
            },
        }
    )
    await conn.send({"type": "response.create"})
    seen = []
    done = await next_event(conn, "response.done", seen)
    audio = b"".join(base64.b64decode(e.delta) for e in seen if e.type == "response.output_audio.delta")
    transcript = "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta")
    assert transcript == "On it, the team is working." == done.response.output[0].content[0].transcript
    assert len(audio) == 6 * 60 * BYTES_PER_MS  # 6 words, 60 ms each, PCM16 24 kHz
    assert done.response.status == "completed" and done.response.usage.output_tokens > 0
    ack_item_id = done.response.output[0].id

    await conn.send(
        {"type": "conversation.item.truncate", "item_id": ack_item_id, "content_index": 0, "audio_end_ms": 120}
    )
    truncated = await next_event(conn, "conversation.item.truncated")
    assert (truncated.item_id, truncated.audio_end_ms) == (ack_item_id, 120)
    await conn.send(
        {"type": "conversation.item.truncate", "item_id": ack_item_id, "content_index": 0, "audio_end_ms": 5000}
    )
    err = (await next_event(conn, "error")).error
    assert err.message == "Audio content of 360ms is already shorter than 5000ms"
    assert (await next_event(conn, "conversation.item.truncated")).audio_end_ms == 360  # clamped, like real
    assert [(t.item_id, t.audio_end_ms) for t in fake.realtime.truncations] == [(ack_item_id, 120), (ack_item_id, 360)]

    answer = "It is 18 C and sunny in Paris. Source: https://weather.example/paris"
    await conn.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": f"[RUN_FINISHED] {answer}"}],
            },
        }
    )
    await conn.send(
        {
            "type": "response.create",
            "response": {
                "instructions": "Give the person a short spoken summary of the team's answer.",
                "tool_choice": "none",
            },
        }
    )
    done = await next_event(conn, "response.done")
    spoken = done.response.output[0].content[0].transcript
    assert first_sentence(answer) == "It is 18 C and sunny in Paris." and first_sentence(answer) in spoken
    assert fake.realtime.responses[-1].instructions.startswith("Give the person a short spoken summary")
    assert fake.realtime.function_calls() == [("ask_team", {"task": "What is the weather in Paris?"})]
    assert fake.realtime.violations == [] and len(fake.realtime.rejected) == 1  # the over-long truncate only
    assert [i["type"] for i in fake.realtime.items()] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
        "message",
    ]
    await conn.close()


async def test_every_server_event_parses_with_the_sdk_types(fake: FakeOpenAI) -> None:
    """Independent of the fake's own check: validate the raw frames the client received."""
    conn = await connect_narrator(fake.async_client())
    fake.realtime.speak_user("Compare two papers on arXiv", transcript_timing="after_response")
    raw: list[dict[str, Any]] = []
    while not any(e.get("type") == "conversation.item.input_audio_transcription.completed" for e in raw) or not any(
        e.get("type") == "response.done" for e in raw
    ):
        raw.append(json.loads(await asyncio.wait_for(conn.recv_bytes(), 3)))
    call = next(e["item"] for e in raw if e["type"] == "response.output_item.done")
    await conn.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"},
        }
    )
    await conn.send({"type": "response.create"})
    while raw[-1].get("type") != "rate_limits.updated" or sum(e["type"] == "response.done" for e in raw) < 2:
        raw.append(json.loads(await asyncio.wait_for(conn.recv_bytes(), 3)))
    for event in raw:
        SERVER_EVENT.validate_python(event)
    types = {e["type"] for e in raw}
    assert {
        "conversation.item.added",
        "conversation.item.done",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.function_call_arguments.done",
        "rate_limits.updated",
    } <= types
    assert len(fake.realtime.server_events) >= len(raw)
    await conn.close()


async def test_failure_cancel_and_scripted_pause(fake: FakeOpenAI) -> None:
    brain = fake.realtime.narrator
    conn = await connect_narrator(fake.async_client())
    brain.fail_next()
    await conn.send({"type": "response.create"})
    failed = (await next_event(conn, "response.done")).response
    assert failed.status == "failed" and failed.status_details.type == "failed"
    assert failed.status_details.error.type == "server_error"
    assert failed.status_details.error.message.startswith("The server had an error while processing your request.")

    brain.queue_function_call("pause_team", {})
    await conn.send({"type": "response.create", "response": {"tool_choice": "none"}})  # may not call: waits
    assert (await next_event(conn, "response.done")).response.output[0].type == "message"
    await conn.send({"type": "response.create"})
    paused = (await next_event(conn, "response.done")).response
    assert (paused.output[0].type, paused.output[0].name) == ("function_call", "pause_team")

    brain.delay_next(1.0)
    await conn.send({"type": "response.create"})
    await next_event(conn, "response.created")
    await conn.send({"type": "response.cancel"})
    cancelled = (await next_event(conn, "response.done")).response
    assert cancelled.status == "cancelled" and cancelled.status_details.reason == "client_cancelled"
    await conn.send({"type": "response.cancel", "event_id": "evt_c"})
    err = (await next_event(conn, "error")).error
    assert (err.code, err.event_id) == ("response_cancel_not_active", "evt_c")
    assert [r.status for r in fake.realtime.responses] == ["failed", "completed", "completed", "cancelled"]
    assert brain.pending == 0
    await conn.close()


async def test_barge_in_cancels_the_active_response(fake: FakeOpenAI) -> None:
    conn = await connect_narrator(fake.async_client())
    fake.realtime.narrator.queue_plan(ResponsePlan.speak("A long answer " * 50, delay_s=0.2))
    await conn.send({"type": "response.create"})
    await next_event(conn, "response.output_audio.delta")
    fake.realtime.speak_user("Stop, pause the team")
    seen: list[Any] = []
    first_done = await next_event(conn, "response.done", seen)
    assert "input_audio_buffer.speech_started" in [e.type for e in seen]
    assert first_done.response.status == "cancelled" and first_done.response.status_details.reason == "turn_detected"
    assert first_done.response.output[0].status == "incomplete"
    second = await next_event(conn, "response.done")
    assert second.response.output[0].name == "ask_team"  # the VAD response after the person's turn
    assert fake.realtime.violations == []
    await conn.close()


async def test_drop_connection_and_sdk_reconnect(fake: FakeOpenAI) -> None:
    client = fake.async_client()
    async with client.realtime.connect(model="gpt-realtime-2.1") as conn:
        await conn.recv()
        await fake.realtime.adrop_connection()
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            await asyncio.wait_for(conn.recv(), 3)
        assert closed.value.rcvd is None  # no close frame: the SDK treats it as 1006
    attempts: list[int] = []
    manager = client.realtime.connect(
        model="gpt-realtime-2.1", initial_delay=0.01, on_reconnecting=lambda e: attempts.append(e.close_code)
    )
    async with manager as conn:
        sessions: list[str] = []
        async for event in conn:  # only iteration reconnects, recv() does not
            if event.type == "session.created":
                sessions.append(event.session.id)
                if len(sessions) == 1:
                    fake.realtime.drop_connection(mode="close", code=1011)
                else:
                    break
    assert attempts == [1011] and len(set(sessions)) == 2 and fake.realtime.sessions == 3
    # sessions are numbered from 1: the reconnected one is session 3
    assert [e["session"]["id"] for e in fake.realtime.server_events_of("session.created", session=3)] == [sessions[1]]


async def test_control_calls_wait_for_a_session(fake: FakeOpenAI) -> None:
    with pytest.raises(RuntimeError, match="no open realtime session"):
        await fake.realtime.aspeak_user("Anyone there?", wait_s=0.05)
    pending = fake.realtime.speak_user("Hello")  # no session yet: waits for the client to connect
    async with fake.async_client().realtime.connect(model="gpt-realtime-2.1") as conn:
        done = await next_event(conn, "response.done")
        await asyncio.wait_for(asyncio.wrap_future(pending), 3)
    assert done.response.output[0].content[0].transcript == "I heard you say: Hello"  # no tools declared
    assert fake.realtime.spoken(session=1) == ["I heard you say: Hello"]
