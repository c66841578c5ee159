"""GPT-Live over WebRTC with a server sideband: the call is created with `client.live.create` (SDP offer in,
session id and SDP answer out), the narrator attaches at /v1/live/sessions/{id}/attach without session.start,
and the Live model's speech reaches the aiortc "browser" over RTP. The fake validates every client event with
`openai.types.live` as on the relay."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import live_settings, live_spoke_answer, voice_app
from tests.support.voice.webrtc_peer import API_KEY, QUESTION, BrowserPeer, start_call, voice_calls


async def test_gpt_live_call_answers_aloud_through_the_sideband(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    live = fake_openai.live
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        assert reply.status_code == 201, reply.text
        call = fake_openai.live_webrtc.latest()
        assert reply.headers["x-call-id"] == call.call_id
        assert peer.of_type("session.started"), "the session started with the call, on the data channel"
        await live.until(lambda lv: call.sideband_attaches == 1, timeout=10, what="the sideband attached")
        peer.say(1000)
        await live.until(lambda lv: lv.input_audio_bytes() > 24_000, timeout=10, what="microphone audio over RTP")
        await live.asay(QUESTION)
        await live.until(live_spoke_answer, timeout=20, what="the answer spoken")
        await live.until(lambda lv: peer.heard_bytes > 24_000, timeout=10, what="the answer heard")
        assert len(live.starts) == 1, "session.start only once: with the call, never from the sideband"
        assert not live.client_events("session.start") and not live.client_events("session.input_audio.append")
        (_, delegation_id, _content), *_ = live.commentary
        assert delegation_id == live.delegations[0][1]
        assert all(API_KEY not in text for text in peer.texts) and API_KEY not in reply.text
        fake_openai.assert_clean()
        await peer.close()


async def test_gpt_live_sideband_drop_mid_run_still_delivers_the_answer(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    live = fake_openai.live
    book = ScriptBook(lambda: paris_script(researcher_delay=1.5))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings())) as server:
        peer = BrowserPeer()
        assert (await start_call(server, peer)).status_code == 201
        call = fake_openai.live_webrtc.latest()
        await live.until(lambda lv: call.sideband_attaches == 1, timeout=10, what="the sideband attached")
        await live.asay(QUESTION)
        await live.until(lambda lv: lv.thinking, timeout=10, what="the first note for the delegation")
        fake_openai.live_webrtc.drop_sideband().result(5)  # the team is still researching
        await live.until(lambda lv: call.sideband_attaches == 2, timeout=10, what="the sideband re-attached")
        await live.until(live_spoke_answer, timeout=20, what="the answer spoken after the re-attach")
        await live.until(lambda lv: peer.heard_bytes > 24_000, timeout=10, what="the answer heard")
        assert live.sessions == 1 and len(live.starts) == 1
        fake_openai.assert_clean()
        await peer.close()
    assert len(voice_calls(server)) == 0
