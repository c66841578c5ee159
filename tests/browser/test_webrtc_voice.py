"""The voice page over WebRTC: Chromium's microphone (fed a WAV made by espeak-ng) goes straight to the fake's
aiortc peer, the narrator runs on the call's sideband in our server, and the narrator's voice comes back as a
remote track the page plays. Our server carries no audio. Also: a sideband drop mid-run, and the fallback to
the relay when WebRTC cannot start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.realtime.brain import first_sentence
from tests.support.browser import (
    MIC_ARGS,
    api_key_of,
    expand_log,
    log_names,
    open_voice_page,
    spoken_wav,
    voice_page_app,
    voice_stats,
)
from tests.support.live_server import ScriptBook, serve
from tests.support.scripted import PARIS_ANSWER, paris_script
from tests.support.voice.client import spoken_with_answer

pytestmark = pytest.mark.browser

QUESTION = "What is the weather in Paris right now?"
SPOKEN = first_sentence(PARIS_ANSWER)


def wav_or_skip(tmp_path: Path) -> Path:
    wav = spoken_wav(tmp_path, QUESTION)
    if wav is None:
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng)")
    return wav


async def test_spoken_question_over_webrtc_is_answered_aloud_without_audio_through_the_server(
    tmp_path: Path, browser: Any, fake_openai: Any, artifacts: Path
) -> None:
    wav = wav_or_skip(tmp_path)
    rt = fake_openai.realtime
    rt.enable_audio_vad(threshold_rms=400, min_speech_ms=200, silence_ms=700)
    rt.queue_transcript(QUESTION)
    app = voice_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=0.2)))
    async with serve(app) as server:
        tab = await open_voice_page(
            browser, server.http_url, [*MIC_ARGS, f"--use-file-for-fake-audio-capture={wav}%noloop"]
        )
        page = tab.page
        call = fake_openai.webrtc.latest()
        await rt.until(lambda r: call.input_audio_bytes > 48_000, timeout=10, what="microphone audio over RTP")
        await rt.until(lambda r: ("ask_team", {"task": QUESTION}) in r.function_calls(), timeout=20, what="ask_team")
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=20_000)
        assert PARIS_ANSWER in await answer.inner_text()
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken")
        await page.wait_for_function("() => window.__voiceStats.bytesPlayed > 24000", timeout=15_000)
        voice = await voice_stats(page)
        assert voice["transport"] == "webrtc" and voice["fallback"] is None and voice["channelEvents"] > 10
        assert voice["bytesSent"] == 0 and voice["bytesReceived"] == 0, "no audio through our server"
        assert not rt.client_events_of("input_audio_buffer.append")
        assert "WebRTC" in await page.inner_text("#voice-transport")
        # Captions of both sides from the data channel.
        await page.wait_for_selector(".caption[data-role=user]")
        assert "weather in Paris" in await page.inner_text(".caption[data-role=user]")
        said = "(s) => [...document.querySelectorAll('.caption[data-role=assistant]')].some(c => c.textContent.includes(s))"
        await page.wait_for_function(said, arg=SPOKEN, timeout=10_000)
        # The event log: the narrator's sent events (from the server) and the call's events (data channel).
        sent = await log_names(page, "#event-log .log-row[data-kind=realtime][data-dir=sent]")
        received = await log_names(page, "#event-log .log-row[data-kind=realtime][data-dir=received]")
        assert "session.update" in sent and "session.updated" in received and "response.done" in received
        content = await expand_log(page)
        assert api_key_of(app) not in content
        assert not re.search(r"\b(sk-|ek_)[A-Za-z0-9_-]{8,}", content), "a key-shaped string reached the page"
        assert all(api_key_of(app) not in text for text in call.socket.channel_texts)
        await page.screenshot(path=str(artifacts / "page-voice-webrtc-1440x900.png"))
        await page.click("#talk")  # hang up
        await page.wait_for_selector("body[data-voice-state=off]")
        await rt.until(lambda r: call.ended, timeout=5, what="the call ended")
        tab.assert_no_console_errors()
    fake_openai.assert_clean()


async def test_sideband_drop_mid_run_is_recovered_and_the_answer_still_heard(
    tmp_path: Path, browser: Any, fake_openai: Any
) -> None:
    rt = fake_openai.realtime
    app = voice_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=2.0)))
    async with serve(app) as server:
        tab = await open_voice_page(browser, server.http_url, MIC_ARGS)
        page = tab.page
        await page.fill("#task-input", "Weather in Paris?")
        await page.keyboard.press("Enter")
        await rt.until(lambda r: r.function_calls(), timeout=10, what="ask_team")
        await rt.until(lambda r: not r.has_active_response(), timeout=10, what="the acknowledgement spoken")
        call = fake_openai.webrtc.latest()
        fake_openai.webrtc.drop_sideband().result(5)  # the team is still researching
        await rt.until(lambda r: call.sideband_attaches == 2, timeout=10, what="the sideband re-attached")
        await rt.until(spoken_with_answer, timeout=20, what="the answer spoken after the re-attach")
        played = (await voice_stats(page))["bytesPlayed"]
        await page.wait_for_function(f"() => window.__voiceStats.bytesPlayed > {played + 24000}", timeout=15_000)
        assert PARIS_ANSWER in await page.locator(".run .answer").inner_text()
        assert rt.sessions == 1 and not call.ended
        tab.assert_no_console_errors()
    fake_openai.assert_clean()


async def test_when_webrtc_cannot_start_the_page_says_so_and_uses_the_relay(
    tmp_path: Path, browser: Any, fake_openai: Any
) -> None:
    fake_openai.webrtc.refuse = 400  # the voice service takes no WebRTC call
    app = voice_page_app(tmp_path, fake_openai, ScriptBook(paris_script))
    async with serve(app) as server:
        tab = await open_voice_page(browser, server.http_url, MIC_ARGS)
        page = tab.page
        assert fake_openai.webrtc.refused == 1
        voice = await voice_stats(page)
        assert voice["transport"] == "relay" and "refused" in voice["fallback"]
        assert "backup route" in await page.inner_text("#voice-transport")
        notice = page.locator(".notice[data-id=error-voice]")
        await notice.wait_for(timeout=5_000)
        text = await notice.inner_text()  # plain words: no protocol names, no error codes
        assert "Voice switched to the backup route" in text and "goes through this server" in text
        assert "WebRTC" not in text and "webrtc_fallback" not in text and "relay" not in text
        await page.wait_for_function("() => window.__voiceStats.bytesSent > 9600", timeout=10_000)  # relay audio
        assert fake_openai.realtime.audio_bytes_received > 0
        assert all("502 (Bad Gateway)" in e for e in tab.console_errors)  # the refused POST, nothing else
    fake_openai.assert_clean()


async def test_gpt_live_over_webrtc_the_answer_is_heard_and_shown(
    tmp_path: Path, browser: Any, fake_openai: Any
) -> None:
    live = fake_openai.live
    app = voice_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=0.2)), api="live")
    async with serve(app) as server:
        tab = await open_voice_page(browser, server.http_url, MIC_ARGS)
        page = tab.page
        assert await page.inner_text("#voice-backend") == "GPT-Live"
        assert "WebRTC" in await page.inner_text("#voice-transport")
        call = fake_openai.live_webrtc.latest()
        await live.until(lambda lv: lv.input_audio_bytes() > 24_000, timeout=10, what="microphone audio over RTP")
        await live.asay(QUESTION)
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=20_000)
        assert PARIS_ANSWER in await answer.inner_text()
        await live.until(lambda lv: any(SPOKEN in t for t in lv.spoken_text()), timeout=20, what="the answer spoken")
        await page.wait_for_function("() => window.__voiceStats.bytesPlayed > 24000", timeout=15_000)
        voice = await voice_stats(page)
        assert voice["transport"] == "webrtc" and voice["bytesSent"] == 0 and voice["bytesReceived"] == 0
        await page.wait_for_selector(".caption[data-role=user]")
        assert "weather in Paris" in await page.inner_text(".caption[data-role=user]")
        assert not live.client_events("session.start") and len(live.starts) == 1
        content = await expand_log(page)
        assert api_key_of(app) not in content
        assert all(api_key_of(app) not in text for text in call.socket.channel_texts)
        await page.click("#talk")
        await page.wait_for_selector("body[data-voice-state=off]")
        await live.until(lambda lv: call.ended, timeout=5, what="the Live session hung up")
        tab.assert_no_console_errors()
    fake_openai.assert_clean()
