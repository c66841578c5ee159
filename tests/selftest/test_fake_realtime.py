"""Self-tests of the fake Realtime API (tests/fakes/realtime), driven through the real openai SDK: sessions, what it
rejects like the real API, the brain's rules, expiry, audio, legacy events, client secrets, sync use."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import openai
import pytest
import websockets
from openai.types.realtime.client_secret_create_response import ClientSecretCreateResponse

from tests.fakes import (
    SESSION_EXPIRED_MESSAGE,
    FakeOpenAI,
    NarratorBrain,
    ResponsePlan,
    first_sentence,
    validate_client_event,
)
from tests.fakes.common.audio import BYTES_PER_MS, pcm16
from tests.support.voice.realtime_client import NARRATOR_SESSION, connect_narrator, next_event

# ---- realtime: session, validation ---------------------------------------------------------------------


async def test_realtime_session_created_and_updated(fake: FakeOpenAI) -> None:
    client = fake.async_client()
    async with client.realtime.connect(model="gpt-realtime-2.1") as conn:
        created = await conn.recv()
        assert created.type == "session.created"
        session = created.session
        assert session.type == "realtime" and session.model == "gpt-realtime-2.1"
        assert session.instructions == "" and session.tools == [] and session.output_modalities == ["audio"]
        assert session.audio.input.format.type == "audio/pcm" and session.audio.input.format.rate == 24000
        assert session.id.startswith("sess_") and session.object == "realtime.session"
        await conn.session.update(session=NARRATOR_SESSION)  # typed helper of the SDK
        updated = await next_event(conn, "session.updated")
        assert [t.name for t in updated.session.tools] == [
            "ask_team",
            "team_status",
            "pause_team",
            "resume_team",
            "cancel_team",
        ]
        assert updated.session.audio.input.turn_detection.silence_duration_ms == 500
        assert updated.session.audio.input.turn_detection.create_response is True  # defaults kept
        assert updated.session.instructions == NARRATOR_SESSION["instructions"]
    assert fake.realtime.sessions == 1 and fake.realtime.rejected == []
    assert fake.realtime.client_event_types == ["session.update"]


async def test_realtime_rejects_what_the_real_api_rejects(fake: FakeOpenAI) -> None:
    conn = await connect_narrator(fake.async_client())
    await conn.send({"type": "tool.output", "event_id": "evt_1", "output": "sunny"})  # raw dict, sent as is
    err = (await next_event(conn, "error")).error
    assert (err.type, err.code, err.param, err.event_id) == ("invalid_request_error", "invalid_value", "type", "evt_1")
    assert err.message.startswith("Invalid value: 'tool.output'. Supported values are: 'session.update', ")
    await conn.send({"type": "session.update", "session": {"type": "realtime", "foo": 1}})
    err = (await next_event(conn, "error")).error
    assert (err.code, err.param, err.message) == (
        "unknown_parameter",
        "session.foo",
        "Unknown parameter: 'session.foo'.",
    )
    await conn.send({"type": "session.update", "session": {"modalities": ["text", "audio"], "voice": "alloy"}})
    err = (await next_event(conn, "error")).error
    assert (err.code, err.message) == ("missing_required_parameter", "Missing required parameter: 'session.type'.")
    await conn.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "text", "text": "hi"}]},
        }
    )
    err = (await next_event(conn, "error")).error
    assert (err.code, err.param) == ("invalid_value", "item.content[0].type")
    await conn.send_raw("not json")
    assert (await next_event(conn, "error")).error.code == "invalid_json"
    await conn.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_nope", "output": "{}"},
        }
    )
    err = (await next_event(conn, "error")).error
    assert (err.code, err.message) == ("invalid_tool_call_id", "Tool call ID 'call_nope' not found in conversation.")
    assert [r.code for r in fake.realtime.rejected] == [
        "invalid_value",
        "unknown_parameter",
        "missing_required_parameter",
        "invalid_value",
        "invalid_json",
        "invalid_tool_call_id",
    ]
    assert fake.realtime.rejected[0].event["type"] == "tool.output"
    await conn.close()


def test_validation_rules_without_a_server() -> None:
    ok = [
        {"type": "session.update", "session": NARRATOR_SESSION},
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "[TEAM] x"}]},
        },
        {"type": "response.create", "response": {"instructions": "Summarize.", "tool_choice": "none"}},
        {
            "type": "response.create",
            "response": {"conversation": "none", "input": [{"type": "item_reference", "id": "item_1"}]},
        },
        {"type": "input_audio_buffer.append", "audio": "AAAA"},
    ]
    for event in ok:
        assert validate_client_event(event) == [], event
    bad = {
        "response.modalities": {"type": "response.create", "response": {"modalities": ["text"]}},
        "audio_end_ms": {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0, "audio_end_ms": 1.5},
        "session.audio.input.format.rate": {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
        },
        "item.output": {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c", "output": {"ok": True}},
        },
    }
    for param, event in bad.items():
        assert validate_client_event(event)[0].param == param


def test_narrator_brain_rules() -> None:
    from tests.fakes import Call, ResponseRequest, Say, SessionView

    def request(**params: Any) -> ResponseRequest:
        return ResponseRequest(
            trigger="client",
            params=params,
            event_id=None,
            instructions=params.get("instructions", ""),
            tool_choice=params.get("tool_choice", "auto"),
            tools=NARRATOR_SESSION["tools"],
            conversation="auto",
            input=None,
            output_modalities=["audio"],
        )

    def message(role: str, text: str) -> dict[str, Any]:
        return {
            "id": f"item_{role}_{len(text)}",
            "type": "message",
            "role": role,
            "content": [{"type": "input_text", "text": text}],
        }

    brain = NarratorBrain()
    person = SessionView(session={}, items=[message("user", "How tall is the Eiffel Tower?")], transcripts={})
    assert brain(person, request()).outputs == [Call("ask_team", {"task": "How tall is the Eiffel Tower?"})]
    assert brain(person, request(tool_choice="none")).outputs == [Say("I heard you say: How tall is the Eiffel Tower?")]
    forced = brain(person, request(tool_choice={"type": "function", "name": "team_status"}))
    assert forced.outputs == [Call("team_status", {})]
    progress = SessionView(
        session={}, items=[*person.items, message("system", "[TEAM Researcher] searching")], transcripts={}
    )
    assert brain(progress, request()).outputs == [Say(brain.progress_text)]
    finished = SessionView(
        session={},
        items=[*progress.items, message("system", "[RUN_FINISHED] The tower is 330 metres tall!\nSources: ...")],
        transcripts={},
    )
    assert (
        brain(finished, request(tool_choice="none")).spoken_text
        == "The team has finished. The tower is 330 metres tall!"
    )
    assert brain(person, request(instructions='Say exactly: "One moment."')).spoken_text == "One moment."
    brain.queue_function_call("pause_team", {})
    assert brain(person, request(tool_choice="none")).function_calls == []  # queued call waits
    assert brain(person, request()).function_calls == [Call("pause_team", {})]
    assert first_sentence("  Paris: 18 C.  More later. ") == "Paris: 18 C."


async def test_second_response_create_while_active_is_a_violation(fake: FakeOpenAI) -> None:
    fake.realtime.narrator.delay_next(0.3)
    conn = await connect_narrator(fake.async_client())
    await conn.send({"type": "response.create"})
    created = await next_event(conn, "response.created")
    await conn.send({"type": "response.create", "event_id": "evt_again"})
    err = (await next_event(conn, "error")).error
    assert err.code == "conversation_already_has_active_response" and err.event_id == "evt_again"
    assert err.message.startswith(f"Conversation already has an active response in progress: {created.response.id}")
    assert [v.kind for v in fake.realtime.violations] == ["conversation_already_has_active_response"]
    await next_event(conn, "response.done")
    await conn.send({"type": "response.create"})  # after response.done it is fine again
    assert (await next_event(conn, "response.done")).response.status == "completed"
    assert len(fake.realtime.violations) == 1 and fake.realtime.rejected == []
    await conn.close()


async def test_session_expiry_like_the_real_api() -> None:
    async with FakeOpenAI(session_expiry_s=0.1) as fake:
        async with fake.async_client().realtime.connect(model="gpt-realtime-2.1") as conn:
            await conn.recv()
            err = await next_event(conn, "error")
            assert (err.error.code, err.error.message) == ("session_expired", SESSION_EXPIRED_MESSAGE)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 3)
            rcvd = closed.value.rcvd
            assert rcvd is not None and rcvd.code == 1001 and rcvd.reason == SESSION_EXPIRED_MESSAGE


async def test_input_audio_append_commit_clear_and_audio_vad(fake: FakeOpenAI) -> None:
    conn = await connect_narrator(fake.async_client())
    await conn.send({"type": "input_audio_buffer.commit"})
    assert (await next_event(conn, "error")).error.code == "input_audio_buffer_commit_empty"
    chunk = base64.b64encode(pcm16(100, "silence")).decode()
    for _ in range(3):
        await conn.input_audio_buffer.append(audio=chunk)
    await conn.send({"type": "input_audio_buffer.clear"})
    await next_event(conn, "input_audio_buffer.cleared")
    assert (fake.realtime.audio_bytes_received, fake.realtime.audio_appends) == (3 * 100 * BYTES_PER_MS, 3)

    fake.realtime.enable_audio_vad(threshold_rms=1000, min_speech_ms=100)
    fake.realtime.queue_transcript("Find papers about speech synthesis")
    for kind, ms in (("silence", 200), ("tone", 400), ("silence", 700)):
        await conn.input_audio_buffer.append(audio=base64.b64encode(pcm16(ms, kind)).decode())
    started = await next_event(conn, "input_audio_buffer.speech_started")
    assert 500 <= started.audio_start_ms <= 520  # 300 ms already appended + 200 ms of silence
    done = await next_event(conn, "response.output_item.done")
    assert json.loads(done.item.arguments) == {"task": "Find papers about speech synthesis"}
    await conn.close()


async def test_legacy_item_events_and_text_sessions() -> None:
    async with FakeOpenAI(legacy_item_events=True) as fake:
        async with fake.async_client().realtime.connect(model="gpt-realtime-2.1") as conn:
            await conn.recv()
            await conn.send({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
            await conn.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Hello there"}],
                    },
                }
            )
            await conn.send({"type": "response.create"})
            seen: list[Any] = []
            done = await next_event(conn, "response.done", seen)
        types = [e.type for e in seen]
        assert types.count("conversation.item.created") == 2 and types.count("conversation.item.added") == 2
        assert "response.output_text.delta" in types and "response.output_audio.delta" not in types
        assert done.response.output[0].content[0].text == "I heard you say: Hello there"
        assert fake.realtime.invalid_server_events == []


async def test_custom_brain_and_out_of_band_response() -> None:
    seen: list[Any] = []

    def brain(view: Any, request: Any) -> ResponsePlan:
        seen.append((view.session_number, request.trigger, request.conversation, len(view.context(request))))
        return ResponsePlan.speak(f"custom {len(seen)}", delay_s=0.2 if len(seen) == 1 else 0.0)

    async with FakeOpenAI(brain=brain) as fake:
        async with fake.async_client().realtime.connect(model="gpt-realtime-2.1") as conn:
            await conn.recv()
            await conn.send({"type": "response.create"})
            await next_event(conn, "response.created")
            # an out-of-band response may run next to the active one; it adds nothing to the conversation
            await conn.send({"type": "response.create", "response": {"conversation": "none", "input": []}})
            seen_events: list[Any] = []
            first_done = await next_event(conn, "response.done", seen_events)
            second_done = await next_event(conn, "response.done", seen_events)
        by_text = {d.response.output[0].content[0].transcript: d.response for d in (first_done, second_done)}
        assert by_text["custom 2"].conversation_id is None and by_text["custom 1"].conversation_id
        assert seen == [(1, "client", "auto", 0), (1, "client", "none", 0)]
        assert [i["role"] for i in fake.realtime.items()] == ["assistant"]
        assert fake.realtime.violations == [] and fake.realtime.spoken() == ["custom 1", "custom 2"]


async def test_client_secrets(fake: FakeOpenAI, client: Any) -> None:
    secret = await client.realtime.client_secrets.create(
        session={"type": "realtime", "model": "gpt-realtime-2.1", "instructions": "Be brief."},
        expires_after={"anchor": "created_at", "seconds": 120},
    )
    assert secret.value.startswith("ek_fake_") and secret.session.type == "realtime"
    assert secret.session.instructions == "Be brief."
    ClientSecretCreateResponse.model_validate(fake.client_secrets.calls[0].response)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.realtime.client_secrets.create(session={"type": "realtime", "voice": "alloy"})
    assert "Unknown parameter: 'session.voice'." in str(caught.value)
    # The minted key opens a realtime session (as a browser would over WebRTC).
    async with fake.async_client(api_key=secret.value).realtime.connect(model="gpt-realtime-2.1") as conn:
        assert (await conn.recv()).type == "session.created"
    assert [c.status for c in fake.client_secrets.calls] == [200, 400]


async def test_realtime_handshake_requires_a_key(fake: FakeOpenAI) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
        async with websockets.connect(fake.realtime_url + "?model=gpt-realtime-2.1"):
            pass
    assert caught.value.response.status_code == 401
    async with websockets.connect(
        fake.realtime_url + "?model=gpt-realtime-2.1",
        additional_headers={"Authorization": "Bearer sk-x", "OpenAI-Beta": "realtime=v1"},
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"
    fake.wait_until(lambda f: f.realtime.violations != [], timeout=2, what="the beta-header violation")
    assert fake.realtime.violations[0].kind == "beta_header"


def test_sync_realtime_and_control_from_sync_code(fake: FakeOpenAI) -> None:
    client = fake.sync_client()
    with client.realtime.connect(model="gpt-realtime-2.1") as conn:
        assert conn.recv().type == "session.created"
        conn.send({"type": "session.update", "session": NARRATOR_SESSION})
        fake.realtime.wait_for_client_event("session.update")
        fake.realtime.speak_user("Hello team").result(3)
        while (event := conn.recv()).type != "response.done":
            pass
        assert event.response.output[0].name == "ask_team"
        fake.realtime.send_event({"type": "rate_limits.updated", "rate_limits": []}).result(3)
        assert conn.recv().type == "rate_limits.updated"
    fake.assert_clean()
