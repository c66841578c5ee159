"""Self-tests of the fake OpenAI server (tests/fakes), driven through the real openai SDK."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import openai
import pydantic
import pytest
import websockets
from openai.types.realtime import RealtimeServerEvent
from openai.types.realtime.client_secret_create_response import ClientSecretCreateResponse

from tests.fakes import (
    SESSION_EXPIRED_MESSAGE,
    ChatScript,
    FakeOpenAI,
    NarratorBrain,
    ResponsePlan,
    default_role_of,
    delay,
    dynamic,
    first_sentence,
    rate_limited,
    server_error,
    tool_call,
    tool_calls,
    validate_client_event,
)
from tests.fakes.common.audio import BYTES_PER_MS, pcm16
from tests.fakes.realtime.recordings import RECORDINGS_DIR, parse_recording, recording_path, server_events

SERVER_EVENT = pydantic.TypeAdapter(RealtimeServerEvent)


def _tool(name: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"{name} tool",
        "parameters": {
            "type": "object",
            "properties": {k: {"type": v} for k, v in props.items()},
            "required": list(props),
            "additionalProperties": False,
        },
    }


NARRATOR_SESSION: dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "You are the narrator of a research team.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "near_field"},
            "transcription": {"model": "gpt-transcribe"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
    "tools": [
        _tool("ask_team", task="string"),
        _tool("team_status"),
        _tool("pause_team"),
        _tool("resume_team"),
        _tool("cancel_team"),
    ],
    "tool_choice": "auto",
}

MANAGER_PROMPT = "You are the Manager of a small research team."
RESEARCHER_PROMPT = "You are the Researcher of a small research team led by the Manager."


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Any:
    """The plugin's fake; afterwards, every server event it sent must have passed the SDK's types."""
    yield fake_openai
    assert fake_openai.realtime.invalid_server_events == []
    assert fake_openai.realtime.internal_errors == []


@pytest.fixture
async def client(fake: FakeOpenAI) -> Any:
    """An AsyncOpenAI client of the fake (max_retries=0), closed after the test."""
    async with fake.async_client() as c:
        yield c


async def next_event(conn: Any, event_type: str, seen: list[Any] | None = None, timeout: float = 3.0) -> Any:
    """Receive until an event of `event_type` arrives (collecting the others in `seen`)."""
    while True:
        event = await asyncio.wait_for(conn.recv(), timeout)
        if seen is not None:
            seen.append(event)
        if event.type == event_type:
            return event


async def connect_narrator(client: Any) -> Any:
    manager = client.realtime.connect(model="gpt-realtime-2.1")
    conn = await manager.enter()
    assert (await conn.recv()).type == "session.created"
    await conn.send({"type": "session.update", "session": NARRATOR_SESSION})
    assert (await next_event(conn, "session.updated")).type == "session.updated"
    return conn


# ---- chat completions --------------------------------------------------------------------------------


def _messages(system: str, user: str = "What is the weather in Paris?") -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def test_chat_scripted_text_reply_with_usage(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", "Find the weather in Paris.\nNEXT AGENT: Researcher")
    messages = _messages(MANAGER_PROMPT)
    reply = await client.chat.completions.create(model="gpt-6-luna", reasoning_effort="none", messages=messages)
    assert reply.choices[0].message.content == "Find the weather in Paris.\nNEXT AGENT: Researcher"
    assert reply.choices[0].finish_reason == "stop"
    expected_prompt = -(-sum(len(m["content"]) for m in messages) // 4)
    assert reply.usage.prompt_tokens == expected_prompt
    assert reply.usage.completion_tokens == -(-len(reply.choices[0].message.content) // 4)
    assert fake.chat.roles() == ["manager"]
    assert fake.chat.usage("manager")["total_tokens"] == reply.usage.total_tokens
    assert fake.chat.calls("manager")[0].model == "gpt-6-luna"


async def test_chat_streaming_text_and_tool_calls(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add(
        "researcher",
        "It is 18 C and sunny in Paris.",
        tool_calls(("web_search", {"query": "weather Paris"}), ("wikipedia_search", {"query": "Paris"})),
    )
    stream = await client.chat.completions.create(
        model="gpt-6-luna",
        reasoning_effort="none",
        messages=_messages(RESEARCHER_PROMPT),
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "It is 18 C and sunny in Paris."
    assert usage is not None and usage.completion_tokens == -(-len(text) // 4)

    stream = await client.chat.completions.create(
        model="gpt-6-luna",
        reasoning_effort="none",
        messages=_messages(RESEARCHER_PROMPT),
        stream=True,
        tools=[{"type": "function", "function": {"name": "web_search"}}],
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    async for chunk in stream:
        assert chunk.usage is None  # no include_usage: no usage chunk
        for delta in chunk.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"name": "", "arguments": ""})
            entry["name"] += delta.function.name or ""
            entry["arguments"] += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("web_search", {"query": "weather Paris"}),
        ("wikipedia_search", {"query": "Paris"}),
    ]
    assert fake.chat.calls("researcher")[1].tool_names == ["web_search"]


async def test_chat_tool_call_reply(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("researcher", tool_call("web_search", {"query": "current weather in Paris"}))
    reply = await client.chat.completions.create(
        model="gpt-6-luna", reasoning_effort="none", messages=_messages(RESEARCHER_PROMPT)
    )
    (call,) = reply.choices[0].message.tool_calls
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "web_search" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"query": "current weather in Paris"}


async def test_chat_error_paths(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", server_error(), rate_limited(retry_after=2))
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"
    # With retries, the SDK honours Retry-After and the next scripted reply answers.
    fake.chat.add("manager", rate_limited(retry_after=0.05), "Recovered.")
    async with fake.async_client(max_retries=1) as retrying:
        reply = await retrying.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
        )
    assert reply.choices[0].message.content == "Recovered."
    assert [r.status for r in fake.chat.calls("manager")] == [500, 429, 429, 200]


async def test_chat_empty_queue_fails_loudly_naming_the_role(fake: FakeOpenAI, client: Any) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna",
            reasoning_effort="none",
            messages=_messages("You are the Developer of a small research team."),
        )
    assert "'developer'" in str(caught.value)
    assert [r.role for r in fake.chat.unscripted] == ["developer"]
    assert any("unscripted chat request" in p for p in fake.problems())


async def test_chat_roles_delay_dynamic_and_auth(fake: FakeOpenAI, client: Any) -> None:
    selector = [
        {
            "role": "system",
            "content": "Select the next role to speak.\nRoles:\nManager: plans\n\n"
            "Read the above conversation. Then select the next role from ['Manager', 'Researcher'] to play. "
            "Only return the role.",
        }
    ]
    assert default_role_of({"messages": selector}) == "selector"
    assert default_role_of({"messages": _messages(RESEARCHER_PROMPT)}) == "researcher"
    assert default_role_of({"messages": [{"role": "user", "content": "hi"}]}) == "unknown"
    fake.chat.add("selector", delay(0.05), "Researcher")
    fake.chat.add("manager", dynamic(lambda body: f"{len(body['messages'])} messages"))
    picked = await client.chat.completions.create(model="gpt-6-luna", reasoning_effort="none", messages=selector)
    assert picked.choices[0].message.content == "Researcher"
    counted = await client.chat.completions.create(
        model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
    )
    assert counted.choices[0].message.content == "2 messages"
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        denied = await http.post("/chat/completions", json={"model": "m", "messages": []})
        models = await http.get("/models", headers={"Authorization": "Bearer sk-test"})
    assert denied.status_code == 401 and "didn't provide an API key" in denied.json()["error"]["message"]
    assert any(m["id"] == "gpt-realtime-2.1" for m in models.json()["data"])


async def test_chat_rejects_unknown_parameters_like_the_api(fake: FakeOpenAI, client: Any) -> None:
    fake.chat.add("manager", "unused")
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT), extra_body={"max_turns": 3}
        )
    assert "Unrecognized request argument supplied: max_turns" in str(caught.value)
    assert [p for _, p in fake.chat.rejected] == ["max_turns"] and fake.chat.script.remaining("manager") == 1


def test_sync_client_and_fixed_api_key() -> None:
    with FakeOpenAI(api_key="sk-right", chat=ChatScript().add("manager", "ok")) as fake:
        with fake.sync_client(api_key="sk-wrong-key-123") as wrong, pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(
                model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
            )
        with fake.sync_client(api_key="sk-right") as right:
            reply = right.chat.completions.create(
                model="gpt-6-luna", reasoning_effort="none", messages=_messages(MANAGER_PROMPT)
            )
        assert reply.choices[0].message.content == "ok"
        assert fake.auth_failures == [("/v1/chat/completions", "wrong key")]


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
        assert session.id.startswith("sess_") and session.object == "realtime.session"  # type: ignore[attr-defined]
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
                sessions.append(event.session.id)  # type: ignore[attr-defined]
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


async def test_session_expiry_like_the_real_api() -> None:
    async with FakeOpenAI(session_expiry_s=0.1) as fake:
        async with fake.async_client().realtime.connect(model="gpt-realtime-2.1") as conn:
            await conn.recv()
            err = await next_event(conn, "error")
            assert (err.error.code, err.error.message) == ("session_expired", SESSION_EXPIRED_MESSAGE)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 3)
            assert closed.value.rcvd.code == 1001 and closed.value.rcvd.reason == SESSION_EXPIRED_MESSAGE


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
        await client.realtime.client_secrets.create(session={"type": "realtime", "voice": "alloy"})  # type: ignore[typeddict-unknown-key]
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


# ---- recordings ----------------------------------------------------------------------------------------

needs_recordings = pytest.mark.skipif(
    not (RECORDINGS_DIR / "narrated-team-session.log").exists(), reason=f"recordings not found in {RECORDINGS_DIR}"
)


@needs_recordings
def test_recordings_parser_counts() -> None:
    narrated = parse_recording(recording_path("narrated-team-session.log"))
    events = server_events(recording_path("narrated-team-session.log"))
    types = [e["type"] for e in events]
    assert (len(narrated), len(events), types.count("error"), types.count("response.audio_transcript.delta")) == (
        114,
        99,
        12,
        33,
    )
    assert {e.name for e in narrated if e.direction == "other"} == {"nested", "controller"}
    assert narrated[0].source_line == 1 and narrated[1].name == "session.created" and narrated[1].source_line == 7
    browser = parse_recording(recording_path("browser-voice-session.log"))
    assert [e.direction for e in browser].count("sent") == 3 and len(browser) == 77
    assert browser[0].time == "8:26:55 PM" and browser[0].payload == {"url": "/session"}
    browser_events = server_events(recording_path("browser-voice-session.log"))
    assert len(browser_events) == 71 and [e["type"] for e in browser_events].count("error") == 2


@needs_recordings
async def test_fake_errors_have_the_recorded_shape(fake: FakeOpenAI) -> None:
    recorded = next(
        e
        for e in server_events(recording_path("narrated-team-session.log"))
        if e["type"] == "error" and "'tool.output'" in e["error"]["message"]
    )
    conn = await connect_narrator(fake.async_client())
    await conn.send({"type": "tool.output", "output": "x"})
    await next_event(conn, "error")
    mine = fake.realtime.server_events_of("error")[-1]
    assert mine.keys() == recorded.keys() and mine["error"].keys() == recorded["error"].keys()
    assert {k: mine["error"][k] for k in ("type", "code", "param", "event_id")} == {
        k: recorded["error"][k] for k in ("type", "code", "param", "event_id")
    }
    assert mine["error"]["message"].split(" Supported")[0] == recorded["error"]["message"].split(" Supported")[0]
    await conn.close()
