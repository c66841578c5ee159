"""Voice minutes and cost of a WebRTC call (issue 16): the server carries no audio, so the sideband's meter
uses what the service reports. Realtime: the VAD's speech segments in, output audio tokens out, tokens priced;
GPT-Live: the transcript deltas' time ranges, and the session duration it reports, priced per minute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import (
    VoiceClient,
    live_settings,
    live_spoke_answer,
    live_usd,
    realtime_settings,
    realtime_usd,
    sample,
    settled,
    spoken_with_answer,
    voice_app,
)
from tests.support.voice.webrtc_peer import QUESTION, BrowserPeer, start_call


async def follow(server: Any, call_id: str) -> VoiceClient:
    return VoiceClient(await websockets.connect(f"{server.ws_url}/ws/voice?call={call_id}", max_size=None))


async def test_realtime_call_minutes_come_from_the_vad_and_the_output_audio_tokens(
    tmp_path: Path, fake_openai: Any
) -> None:
    labels = {"backend": "realtime", "transport": "webrtc"}
    cost_before = sample("research_team_voice_cost_usd_total", **labels)
    in_before = sample("research_team_voice_minutes_total", **labels, direction="in")
    rt = fake_openai.realtime
    rt.enable_audio_vad(threshold_rms=400, min_speech_ms=200, silence_ms=500)
    rt.queue_transcript(QUESTION)
    voice = realtime_settings(voice_usage_every_s=0.2)
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=voice)) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        page = await follow(server, reply.headers["x-call-id"])
        await rt.client_event("session.update", timeout=10)
        peer.say(1200)
        await rt.until(spoken_with_answer, timeout=30, what="the answer spoken")
        latest = await settled(page, lambda told: told["usd"] == pytest.approx(realtime_usd(fake_openai), rel=1e-3))
        expected_usd = realtime_usd(fake_openai)
        started = rt.server_events_of("input_audio_buffer.speech_started")[0]["audio_start_ms"]
        stopped = rt.server_events_of("input_audio_buffer.speech_stopped")[0]["audio_end_ms"]
        audio_out = sum(
            e["response"]["usage"]["output_token_details"]["audio_tokens"] for e in rt.server_events_of("response.done")
        )
        assert latest["transport"] == "webrtc" and latest["backend"] == "realtime"
        assert latest["minutes_in"] == pytest.approx((stopped - started) / 60_000, abs=1e-4)
        assert 0.8 / 60 < latest["minutes_in"] < 2.5 / 60  # the 1.2 s the person said, as the VAD heard it
        assert latest["minutes_out"] == pytest.approx(audio_out / 20 / 60, abs=1e-4)
        assert page.audio_bytes == 0
        fake_openai.assert_clean()
        await page.close()
        await peer.close()
    assert sample("research_team_voice_cost_usd_total", **labels) - cost_before >= expected_usd * 0.999
    assert sample("research_team_voice_minutes_total", **labels, direction="in") > in_before


async def test_gpt_live_call_minutes_come_from_the_transcript_timeline_and_its_reported_duration(
    tmp_path: Path, fake_openai: Any
) -> None:
    live = fake_openai.live
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=live_settings(voice_usage_every_s=0.2))) as server:
        peer = BrowserPeer()
        reply = await start_call(server, peer)
        page = await follow(server, reply.headers["x-call-id"])
        call = fake_openai.live_webrtc.latest()
        await live.until(lambda lv: call.sideband_attaches == 1, timeout=10, what="the sideband attached")
        await live.asay(QUESTION)
        await live.until(live_spoke_answer, timeout=20, what="the answer spoken")
        latest = await settled(page, lambda told: told["usd"] == pytest.approx(live_usd(fake_openai), abs=1e-6))
        heard = live.server_events_of("session.input_transcript.delta")
        said = live.server_events_of("session.output_transcript.delta")
        assert latest["transport"] == "webrtc" and latest["backend"] == "live"
        assert latest["minutes_in"] == pytest.approx(sum(e["end_ms"] - e["start_ms"] for e in heard) / 60_000, abs=1e-4)
        assert latest["minutes_out"] > 0
        assert latest["minutes_out"] <= sum(e["end_ms"] - e["start_ms"] for e in said) / 60_000 + 1e-4
        assert latest["usd"] == pytest.approx(latest["billed_minutes"] * 0.05, abs=1e-5)
        # The sideband gets the call's audio reflected (as GPT-Live does): it is neither counted twice nor sent to
        # the page, which hears the narrator over WebRTC.
        assert page.audio_bytes == 0
        fake_openai.assert_clean()
        await page.close()
        await peer.close()
