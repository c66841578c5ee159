"""The narrator end to end: the real app and /ws/voice, the real openai SDK, the fake Realtime server.

The fake validates every client event with the SDK's own types and rejects unknown keys, exactly like the real
API; `fake.assert_clean()` fails a test on any rejected event, any second response.create while one is active,
or any server event the SDK could not parse. Each failure of shared/recordings/narrated-team-session.log has a
test here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import websockets

from app.core.redaction import Redactor
from app.main import create_app
from app.realtime.narrator.narrator import IGNORED_EVENTS, Narrator
from tests.fakes.realtime.recordings import recording_path, server_events
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app, make_settings
from tests.support.scripted import PARIS_ANSWER, developer_tools, paris_script, research_tools
from tests.support.voice.client import SPOKEN_ANSWER, VoiceClient, open_voice, spoken_with_answer, voice_app
from tests.support.voice.narrator_doubles import Harness


async def test_weather_question_spoken_end_to_end(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.1))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await fake_openai.realtime.aspeak_user("What's the weather in Paris right now?")
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        rt = fake_openai.realtime
        # 1. The model's ask_team call was answered with a function_call_output item, then a response.
        calls = rt.function_calls()
        assert calls[0][0] == "ask_team" and "Paris" in calls[0][1]["task"]
        outputs = [
            e for e in rt.client_events_of("conversation.item.create") if e["item"]["type"] == "function_call_output"
        ]
        assert len(outputs) == 1 and json.loads(outputs[0]["item"]["output"])["status"] == "started"
        # 2. Progress went in as short system items, with no response of their own.
        system_texts = [
            e["item"]["content"][0]["text"]
            for e in rt.client_events_of("conversation.item.create")
            if e["item"].get("role") == "system"
        ]
        assert any(t.startswith("[TEAM Researcher] searching the web") for t in system_texts)
        assert all(len(t) <= 300 for t in system_texts if t.startswith("[TEAM"))
        assert system_texts[-1].startswith("[RUN_FINISHED] " + PARIS_ANSWER)
        creates = rt.client_events_of("response.create")
        assert [c["response"]["metadata"]["purpose"] for c in creates] == ["reply", "tool_result", "final_answer"]
        assert creates[-1]["response"]["tool_choice"] == "none"
        # 3. The page got the narrator's audio, both captions, the team timeline and the answer as text.
        await voice.until(
            lambda m: (
                m["type"] == "caption" and m["role"] == "assistant" and m.get("final") and SPOKEN_ANSWER in m["text"]
            )
        )
        assert voice.audio_bytes > 0 and voice.of_type("audio.start")
        assert any(m["role"] == "user" and m.get("final") for m in voice.of_type("caption"))
        finished = voice.team_events("run_finished")
        assert finished and finished[0]["data"]["final_answer"].startswith(PARIS_ANSWER)
        rows = voice.of_type("realtime.log")
        assert {r["dir"] for r in rows} == {"sent", "received"}
        assert "sk-fake-test-key" not in json.dumps(voice.messages)
        # Zero rejected events, no second response in flight, every server event parsed by the SDK.
        fake_openai.assert_clean()
        await voice.close()


async def test_model_pausing_by_itself_is_refused_and_answer_spoken(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.3))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        fake_openai.realtime.narrator.queue_function_call("ask_team", {"task": "Weather in Paris?"})
        fake_openai.realtime.narrator.queue_function_call("pause_team", {})  # the recorded failure, step 5
        await voice.send({"type": "text", "text": "Weather in Paris?"})
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        outputs = {
            e["item"]["call_id"]: json.loads(e["item"]["output"])
            for e in fake_openai.realtime.client_events_of("conversation.item.create")
            if e["item"]["type"] == "function_call_output"
        }
        pause_reply = [o for o in outputs.values() if "refused" in o]
        assert pause_reply and pause_reply[0]["refused"].startswith("not paused: the person did not ask")
        finished = voice.team_events("run_finished")
        assert finished[0]["data"]["stop_reason"] == "completed"
        assert not [e for e in voice.of_type("team") if e["event"]["data"].get("state") == "paused"]
        fake_openai.assert_clean()
        await voice.close()


async def test_failed_summary_is_retried_and_spoken(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await fake_openai.realtime.aspeak_user("What's the weather in Paris?")
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "ToolCallRequestEvent")
        await fake_openai.realtime.until(lambda rt: not rt.has_active_response(), timeout=5, what="quiet")
        fake_openai.realtime.narrator.fail_next(2)  # the summary fails twice with server_error
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken after retries")
        await fake_openai.realtime.until(lambda rt: rt.responses[-1].status == "completed", what="its end")
        finals = [
            c
            for c in fake_openai.realtime.client_events_of("response.create")
            if c["response"]["metadata"]["purpose"] == "final_answer"
        ]
        assert len(finals) == 3
        statuses = [r.status for r in fake_openai.realtime.responses][-3:]
        assert statuses == ["failed", "failed", "completed"]
        fake_openai.assert_clean()
        await voice.close()


async def test_barge_in_truncates_to_played_milliseconds(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.5, runs=2))  # the second utterance: a follow-up
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await fake_openai.realtime.aspeak_user("What's the weather in Paris?")
        start = await voice.until(lambda m: m["type"] == "audio.start")
        await fake_openai.realtime.aspeak_user("Wait, in Celsius please.")
        await voice.until(lambda m: m["type"] == "playback.stop")
        played_ms = voice.item_bytes[start["item_id"]] // 48 // 2  # the person heard half of what arrived
        assert played_ms > 0
        await voice.send({"type": "playback", "item_id": start["item_id"], "played_ms": played_ms})
        await fake_openai.realtime.until(lambda rt: rt.truncations, timeout=5, what="a truncate")
        truncation = fake_openai.realtime.truncations[0]
        assert (truncation.item_id, truncation.content_index, truncation.audio_end_ms) == (
            start["item_id"],
            0,
            played_ms,
        )
        fake_openai.assert_clean()
        await voice.close()


async def test_socket_drop_mid_run_reconnects_and_answer_is_spoken(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await fake_openai.realtime.aspeak_user("What's the weather in Paris?")
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_started")
        await fake_openai.realtime.adrop_connection()
        await voice.until(lambda m: m["type"] == "voice.state" and m["state"] == "reconnecting")
        await fake_openai.realtime.until(lambda rt: rt.sessions == 2, timeout=5, what="a second session")
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        second = [e for e in fake_openai.realtime.client_events if e.session == 2]
        assert second[0].type == "session.update"
        restored = second[1].event["item"]["content"][0]["text"]
        assert restored.startswith("[CONTEXT]")
        assert voice.team_events("run_finished")[0]["data"]["stop_reason"] == "completed"
        fake_openai.assert_clean()
        await voice.close()


async def test_session_expiry_renews_the_session(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.3))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await fake_openai.realtime.aspeak_user("What's the weather in Paris?")
        await voice.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_started")
        await asyncio.wrap_future(fake_openai.realtime.expire_session())
        await fake_openai.realtime.until(lambda rt: rt.sessions == 2, timeout=5, what="a renewed session")
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        fake_openai.assert_clean()
        await voice.close()


async def test_typed_text_and_team_buttons(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        voice = await open_voice(server)
        await voice.send({"type": "text", "text": "What's the weather in Paris?"})
        # The Manager delegated: the Researcher's (slow) turn is under way when the person presses pause.
        await voice.until(lambda m: m["type"] == "team" and m["event"]["data"].get("source") == "Manager")
        await voice.send({"type": "team.pause"})  # the person's own button: honoured
        await voice.until(lambda m: m["type"] == "team" and m["event"]["data"].get("state") == "paused")
        await voice.send({"type": "team.resume"})
        await fake_openai.realtime.until(spoken_with_answer, timeout=15, what="the answer spoken")
        await voice.send({"type": "team.resume"})
        error = await voice.until(lambda m: m["type"] == "error")
        assert error["code"] == "not_paused"
        for bad in ("{nope", json.dumps({"type": "dance"}), json.dumps({"type": "playback", "item_id": "x"})):
            await voice.conn.send(bad)
        await voice.send(b"\x00")  # odd-length audio
        await voice.send({"type": "ping"})
        await voice.until(lambda m: m["type"] == "pong")
        codes = [m["code"] for m in voice.of_type("error")]
        assert {"invalid_json", "unknown_type", "invalid_message", "invalid_audio"} <= set(codes)
        fake_openai.assert_clean()
        await voice.close()


async def test_microphone_audio_reaches_the_realtime_session(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        voice = await open_voice(server)
        for _ in range(10):
            await voice.send(b"\x10\x00" * 960)  # 40 ms frames
        await fake_openai.realtime.until(lambda rt: rt.audio_bytes_received >= 19_200, timeout=5, what="audio")
        assert fake_openai.realtime.audio_appends == 10
        fake_openai.assert_clean()
        await voice.close()


async def test_session_endpoint_mints_ephemeral_secret_rate_limited(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            minted = await http.post("/session")
            assert minted.status_code == 200
            body = minted.json()
            assert body["client_secret"]["value"].startswith("ek_") and "sk-fake-test-key" not in minted.text
            statuses = [(await http.get("/session")).status_code for _ in range(4)]
            assert statuses[:2] == [200, 200] and statuses[-1] == 429
        fake_openai.assert_clean()


async def test_no_api_key_voice_says_what_to_set(tmp_path: Path) -> None:
    app = create_app(
        make_settings(tmp_path, openai_api_key=None),
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )
    async with live_app(app) as server:
        client = VoiceClient(await websockets.connect(server.ws_url + "/ws/voice"))
        error = await client.until(lambda m: m["type"] == "error")
        assert error["code"] == "no_model_access" and "OPENAI_API_KEY" in error["message"]
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.post("/session")).status_code == 503
        await client.close()


@pytest.mark.parametrize("recording", ["narrated-team-session.log", "browser-voice-session.log"])
async def test_recorded_server_events_are_handled_or_logged(tmp_path: Path, recording: str) -> None:
    events = server_events(recording_path(recording))
    assert events
    async with Harness(tmp_path) as harness:
        narrator: Narrator = harness.narrator
        handled = set(narrator._handlers())
        for event in events:
            await harness.server(event)  # raises nothing (tool calls: waits for their output)
        unknown = {e["type"] for e in events} - handled - IGNORED_EVENTS
        assert not unknown, f"event types neither handled nor deliberately ignored: {unknown}"
        if recording.startswith("narrated"):
            # The recorded send_to_nested call was never answered; here it gets a function_call_output.
            answered = [
                e
                for e in harness.conn.of_type("conversation.item.create")
                if e["item"]["type"] == "function_call_output"
            ]
            assert answered and "Unknown tool 'send_to_nested'" in answered[0]["item"]["output"]
            # The old-name transcripts reached the captions.
            assert any("real-time weather" in text for text in narrator.spoken)


def test_redactor_masks_the_recorded_ephemeral_key() -> None:
    text = recording_path("browser-voice-session.log").read_text()
    assert "ek_" in text
    assert "ek_6" not in Redactor().redact(text)
