"""WebRTC voice with a server sideband, end to end: an aiortc peer plays the browser (microphone track,
`oai-events` data channel, remote audio), our app creates the call with the API key and runs the narrator on
the call's sideband, and the fake answers the call with aiortc. No audio passes through our server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from app.core.logging_setup import JsonFormatter
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import VoiceClient, spoken_with_answer, voice_app
from tests.support.voice.webrtc_peer import API_KEY, QUESTION, BrowserPeer, start_call, voice_calls


async def test_spoken_question_over_webrtc_is_answered_aloud_through_the_sideband(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    rt = fake_openai.realtime
    rt.enable_audio_vad(threshold_rms=400, min_speech_ms=200, silence_ms=500)
    rt.queue_transcript(QUESTION)
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        assert reply.status_code == 201, reply.text
        assert reply.headers["content-type"].startswith("application/sdp")
        call = fake_openai.webrtc.latest()
        assert reply.headers["x-call-id"] == call.call_id
        await rt.client_event("session.update", timeout=10)  # the narrator attached and configured the call
        peer.say(1200)
        await rt.until(spoken_with_answer, timeout=30, what="the answer spoken")
        await rt.until(lambda r: peer.heard_bytes > 48_000, timeout=10, what="a second of answer heard")
        assert call.input_audio_bytes > 48 * 1000, "the microphone's audio reached the fake over RTP"
        assert rt.function_calls()[0] == ("ask_team", {"task": QUESTION})
        assert rt.audio_appends > 0 and not rt.client_events_of("input_audio_buffer.append"), (
            "audio came over RTP, never as events through our server"
        )
        assert peer.of_type("response.done"), "the page sees the call's events on the data channel"
        finals = [e for e in peer.of_type("conversation.item.done") if "[RUN_FINISHED]" in str(e)]
        assert finals, "the team's answer went into the call"
        assert all(API_KEY not in text for text in peer.texts)
        assert API_KEY not in reply.text and API_KEY not in str(reply.headers)
        # Every record at DEBUG (the SDK's websockets client logs its Authorization header there), as the app's
        # log handler writes it: the key in no line.
        formatter = JsonFormatter(server.services.redactor)
        assert any(API_KEY in r.getMessage() for r in caplog.records), "the check below would see the key"
        assert not [r.name for r in caplog.records if API_KEY in formatter.format(r)]
        fake_openai.assert_clean()
        await peer.close()


async def test_sideband_drop_mid_run_is_reattached_and_the_answer_still_spoken(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=1.5))
    rt = fake_openai.realtime
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        peer = BrowserPeer()
        assert (await start_call(server, peer)).status_code == 201
        await rt.client_event("session.update", timeout=10)
        await rt.aspeak_user(QUESTION)
        await rt.until(lambda r: r.function_calls(), timeout=10, what="ask_team")
        call = fake_openai.webrtc.latest()
        await rt.until(lambda r: not r.has_active_response(), timeout=10, what="the acknowledgement spoken")
        fake_openai.webrtc.drop_sideband().result(5)  # the team is still working
        await rt.until(lambda r: call.sideband_attaches >= 2, timeout=10, what="the sideband re-attached")
        await rt.until(spoken_with_answer, timeout=30, what="the answer spoken after the re-attach")
        assert rt.sessions == 1, "one call, one conversation: the sideband re-attached to it"
        assert len(rt.client_events_of("session.update")) == 2
        assert not any("[CONTEXT]" in str(e) for e in rt.client_events_of("conversation.item.create")), (
            "the call kept the conversation: nothing to restore"
        )
        fake_openai.assert_clean()
        await peer.close()


async def test_hangup_ends_the_call_and_its_narrator(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        call_id = reply.headers["x-call-id"]
        await fake_openai.realtime.client_event("session.update", timeout=10)
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.delete(f"/voice/calls/{call_id}")).status_code == 204
            assert (await http.delete(f"/voice/calls/{call_id}")).status_code == 404
        assert len(voice_calls(server)) == 0
        await fake_openai.realtime.until(lambda r: fake_openai.webrtc.calls[call_id].ended, what="call ended")
        await peer.close()


async def test_a_call_gone_on_the_service_side_ends_here_too(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        peer = BrowserPeer()
        await start_call(server, peer)
        await fake_openai.realtime.client_event("session.update", timeout=10)
        await peer.close()  # the browser went away: the service ends the call, the sideband cannot re-attach
        await fake_openai.realtime.until(lambda r: len(voice_calls(server)) == 0, timeout=10, what="call ended")


@pytest.mark.parametrize(
    ("body", "status"),
    [("not sdp", 400), ("v=0\r\n" + "a" * 70_000, 413)],
)
async def test_bad_offers_are_refused_before_any_call(
    tmp_path: Path, fake_openai: FakeOpenAI, body: str, status: int
) -> None:
    async with live_app(voice_app(tmp_path, fake_openai, ScriptBook(paris_script))) as server:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            reply = await http.post("/voice/calls", content=body, headers={"Content-Type": "application/sdp"})
        assert reply.status_code == status
        assert not fake_openai.webrtc.calls


async def test_the_page_follows_its_call_typed_text_reaches_the_narrator_and_no_audio_is_taken(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.1))
    rt = fake_openai.realtime
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        await rt.client_event("session.update", timeout=10)
        page = VoiceClient(
            await websockets.connect(f"{server.ws_url}/ws/voice?call={reply.headers['x-call-id']}", max_size=None)
        )
        await page.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
        await page.send(b"\0\0" * 480)
        refused = await page.until(lambda m: m["type"] == "error")
        assert refused["code"] == "binary_not_supported"
        await page.send({"type": "text", "text": QUESTION})
        await page.until(lambda m: m["type"] == "team" and m["event"]["type"] == "run_finished", timeout=20)
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken")
        assert not rt.client_events_of("input_audio_buffer.append")
        assert page.audio_bytes == 0, "the narrator's audio never passes through our server"
        await page.close()
        other = VoiceClient(await websockets.connect(f"{server.ws_url}/ws/voice?call=rtc_not_a_call", max_size=None))
        assert (await other.until(lambda m: m["type"] == "error"))["code"] == "no_such_call"
        await other.close()
        fake_openai.assert_clean()
        await peer.close()


USERS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}


def two_user_app(tmp_path: Path, fake: FakeOpenAI) -> FastAPI:
    from app.main import create_app
    from tests.support.live_server import make_settings
    from tests.support.scripted import developer_tools, research_tools

    settings = make_settings(
        tmp_path, openai_api_key=API_KEY, openai_base_url=fake.base_url, app_users=USERS, session_rate_per_min=30
    )
    return create_app(
        settings,
        model_clients=ScriptBook(paris_script),
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
    )


async def test_another_users_call_answers_as_if_absent(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    alice = {"Authorization": f"Bearer {USERS['alice']}"}
    bob = {"Authorization": f"Bearer {USERS['bob']}"}
    async with live_app(two_user_app(tmp_path, fake_openai)) as server:
        peer, bob_peer = BrowserPeer(), BrowserPeer()
        async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
            offer = await peer.offer()
            refused = await http.post("/voice/calls", content=offer, headers={"Content-Type": "application/sdp"})
            assert refused.status_code == 401 and not fake_openai.webrtc.calls, "no call without a user"
            reply = await http.post("/voice/calls", content=offer, headers={**alice, "Content-Type": "application/sdp"})
            assert reply.status_code == 201, reply.text
            call_id, session_id = reply.headers["x-call-id"], reply.headers["x-session-id"]
            assert (await http.delete(f"/voice/calls/{call_id}", headers=bob)).status_code == 404
            taken = await http.post(
                "/voice/calls",
                params={"session": session_id},
                content=await bob_peer.offer(),
                headers={**bob, "Content-Type": "application/sdp"},
            )
            assert taken.status_code == 201 and taken.headers["x-session-id"] != session_id, (
                "bob asking for alice's session gets a fresh one of his own, as if hers did not exist"
            )
            bob_call = taken.headers["x-call-id"]
            assert (await http.delete(f"/voice/calls/{bob_call}", headers=alice)).status_code == 404
            assert (await http.delete(f"/voice/calls/{bob_call}", headers=bob)).status_code == 204
        follow = f"{server.ws_url}/ws/voice?call={call_id}&token={USERS['bob']}"
        other = VoiceClient(await websockets.connect(follow, max_size=None))
        assert (await other.until(lambda m: m["type"] == "error"))["code"] == "no_such_call"
        await other.close()
        assert voice_calls(server).get(call_id, "alice") is not None
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            assert (await http.delete(f"/voice/calls/{call_id}", headers=alice)).status_code == 204
        await peer.close()
        await bob_peer.close()


def final_answer_requests(rt: Any) -> list[dict[str, Any]]:
    return [e for e in rt.client_events_of("response.create") if e["response"]["metadata"]["purpose"] == "final_answer"]


@pytest.mark.fake_openai(realistic_pacing=True, ms_per_word=250)
async def test_sideband_drop_while_the_answer_is_spoken_does_not_speak_it_twice(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    book = ScriptBook(lambda: paris_script(researcher_delay=0.1))
    rt = fake_openai.realtime
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server:
        peer = BrowserPeer()
        assert (await start_call(server, peer)).status_code == 201
        await rt.client_event("session.update", timeout=10)
        await rt.aspeak_user(QUESTION)
        await rt.until(lambda r: final_answer_requests(r) and r.has_active_response(), timeout=20, what="answering")
        call = fake_openai.webrtc.latest()
        fake_openai.webrtc.drop_sideband().result(5)  # the answer goes on in the call, to the browser
        await rt.until(lambda r: call.sideband_attaches == 2, timeout=10, what="the sideband re-attached")
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken")
        await rt.until(lambda r: not r.has_active_response(), timeout=20, what="the answer finished")
        await asyncio.sleep(0.5)  # a resent answer would be asked for at once
        assert len(final_answer_requests(rt)) == 1, "the answer the call was speaking was not asked for again"
        assert len([t for t in rt.spoken() if "Paris" in t]) == 1
        fake_openai.assert_clean()
        await peer.close()


def test_calls_being_created_count_against_the_limits() -> None:
    from app.realtime.voice_calls import TooManyCalls, VoiceCalls

    calls = VoiceCalls(max_calls=2, per_user=1)
    calls.reserve("alice")  # alice's first call is being created (the service is asked meanwhile)
    with pytest.raises(TooManyCalls):
        calls.reserve("alice")  # a second request at the same moment
    calls.reserve("bob")
    with pytest.raises(TooManyCalls):
        calls.reserve("carol")  # the server's limit, with two calls on their way
    calls.unreserve("alice")
    calls.reserve("carol")
