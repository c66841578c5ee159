"""Voice minutes and voice cost per voice session (issue 16): the meter's arithmetic, and whole spoken sessions
over /ws/voice on both backends against the strict fake (the real app, the real openai SDK), checked against
the usage the fake reported, on the page (`voice.usage`) and in Prometheus."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from app.core.prices import VoicePrice
from app.core.voice_protocol import VOICE_OUT
from app.realtime.voice_usage import VoiceUsage, response_tokens
from tests.support.live_server import ScriptBook, live_app
from tests.support.scripted import paris_script
from tests.support.voice.client import (
    REALTIME,
    live_settings,
    live_spoke_answer,
    live_usd,
    open_voice,
    realtime_settings,
    realtime_usd,
    sample,
    settled,
    spoken_with_answer,
    voice_app,
)

ONE_SECOND_PCM = b"\x01\x00" * 24_000


def usage_of(text_in: int, audio_in: int, text_out: int, audio_out: int, cached_text: int = 0) -> dict[str, Any]:
    """A response.done usage shaped exactly like openai.types.realtime.RealtimeResponseUsage."""
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": cached_text,
            "cached_tokens_details": {"text_tokens": cached_text, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def test_realtime_tokens_are_priced_by_modality_with_cached_input_apart() -> None:
    tokens = response_tokens(usage_of(text_in=1000, audio_in=500, text_out=100, audio_out=2000, cached_text=400))
    assert (tokens.text_in, tokens.cached_text_in, tokens.audio_in) == (600, 400, 500)
    expected = (600 * 4.0 + 400 * 0.4 + 500 * 32.0 + 100 * 24.0 + 2000 * 64.0) / 1e6  # gpt-realtime-2.1
    assert tokens.usd(REALTIME) == pytest.approx(expected)
    # Tokens the service did not split count as audio (the dearer kind), never as nothing.
    lumped = response_tokens({"input_tokens": 10, "output_tokens": 20})
    assert (lumped.audio_in, lumped.audio_out) == (10, 20)
    assert response_tokens(None).input == 0


def test_voice_prices_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert realtime_settings().voice_prices["gpt-live-1"].per_minute == 0.05
    monkeypatch.setenv("VOICE_PRICES", json.dumps({"my-voice": {"audio_output": 10, "per_minute": 0.01}}))
    prices = realtime_settings().voice_prices
    assert set(prices) == {"my-voice"} and prices["my-voice"] == VoicePrice(audio_output=10, per_minute=0.01)


def test_minutes_per_transport_and_live_duration_across_renewals() -> None:
    told: list[dict[str, Any]] = []
    relay = VoiceUsage(backend="live", session_id="s", notify=told.append, price=VoicePrice(per_minute=0.05))
    relay.sent({"type": "session.input_audio.append", "audio": "AAAA" * 1200})  # 3,600 bytes = 75 ms
    relay.received({"type": "session.usage.updated", "event_id": "e1", "usage": {"seconds": 30.0}})
    relay.received({"type": "session.usage.updated", "event_id": "e2", "usage": {"seconds": 60.0}})
    relay.new_session()  # renewed: the next session counts from zero
    relay.received({"type": "session.usage.updated", "event_id": "e3", "usage": {"seconds": 6.0}})
    relay.close()
    assert relay.ms_in == pytest.approx(75.0)
    assert relay.billed_minutes == pytest.approx(1.1) and relay.usd == pytest.approx(1.1 * 0.05)
    assert VOICE_OUT.validate_python(told[-1]).type == "voice.usage"

    call = VoiceUsage(backend="realtime", session_id="s", notify=told.append)
    call.transport = "webrtc"
    call.sent({"type": "input_audio_buffer.append", "audio": "AAAA"})  # not carried on WebRTC: not counted
    call.received({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000, "item_id": "i"})
    call.received({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 3500, "item_id": "i"})
    call.received({"type": "response.done", "response": {"usage": usage_of(10, 25, 5, 40)}})
    assert call.ms_in == 2500 and call.ms_out == pytest.approx(2000)  # 40 output audio tokens at 20 a second
    assert call.usd is None  # no price: unknown, never a guess


@pytest.mark.parametrize("backend", ["realtime", "live"])
async def test_a_spoken_session_reports_minutes_and_cost_to_the_page_and_prometheus(
    tmp_path: Path, fake_openai: Any, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.realtime.voice_front")
    labels = {"backend": backend, "transport": "relay"}
    minutes_in = sample("research_team_voice_minutes_total", **labels, direction="in")
    minutes_out = sample("research_team_voice_minutes_total", **labels, direction="out")
    cost = sample("research_team_voice_cost_usd_total", **labels)
    voice_settings = (
        live_settings(voice_usage_every_s=0.2) if backend == "live" else realtime_settings(voice_usage_every_s=0.2)
    )
    book = ScriptBook(lambda: paris_script(researcher_delay=0.4))
    async with live_app(voice_app(tmp_path, fake_openai, book, voice=voice_settings)) as server:
        voice = await open_voice(server)
        for start in range(0, len(ONE_SECOND_PCM), 4800):  # one second of microphone, 100 ms frames
            await voice.send(ONE_SECOND_PCM[start : start + 4800])
        if backend == "live":
            live = fake_openai.live
            await live.asay("What's the weather in Paris right now?")
            await live.until(live_spoke_answer, timeout=15, what="the answer spoken")
        else:
            rt = fake_openai.realtime
            await rt.aspeak_user("What's the weather in Paris right now?")
            await rt.until(spoken_with_answer, timeout=15, what="the answer spoken")
        reported = realtime_usd if backend == "realtime" else live_usd

        def matches(told: dict[str, Any]) -> bool:  # what the fake reported so far, and the audio the page got
            usd = told["usd"] == pytest.approx(reported(fake_openai), rel=1e-3)
            return bool(usd and told["minutes_out"] == pytest.approx(voice.audio_bytes / 48 / 60_000, rel=0.05))

        latest = await settled(voice, matches)
        expected_usd = reported(fake_openai)
        assert latest["backend"] == backend and latest["transport"] == "relay"
        assert latest["minutes_in"] == pytest.approx(1 / 60, rel=0.01)  # the second of audio the page sent
        assert latest["minutes_out"] > 0 and latest["usd"] > 0
        if backend == "live":
            assert latest["billed_minutes"] == pytest.approx(expected_usd / 0.05, abs=1e-4)  # rounded to 4 places
        else:
            assert latest["output_tokens"] > 0 and latest["billed_minutes"] is None
        # Throttled: a handful of messages, not one per audio frame.
        assert len(voice.of_type("voice.usage")) < 20
        fake_openai.assert_clean()
        await voice.close()
        await asyncio.sleep(0.3)  # the narrator closes after the page: its last figures go to Prometheus
    assert sample("research_team_voice_minutes_total", **labels, direction="in") - minutes_in == pytest.approx(
        1 / 60, rel=0.01
    )
    assert sample("research_team_voice_minutes_total", **labels, direction="out") > minutes_out
    assert sample("research_team_voice_cost_usd_total", **labels) - cost >= expected_usd * 0.999
    (ended,) = [r for r in caplog.records if r.getMessage() == "voice session ended"]
    assert ended.usd == pytest.approx(expected_usd, rel=1e-3) and ended.turns >= 1  # type: ignore[attr-defined]  # from extra=
