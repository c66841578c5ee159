"""The voice page end to end: Chromium's microphone fed from a WAV made by espeak-ng, /ws/voice, the narrator
and the fake Realtime server (which checks every client event like the real API), and the narrator's audio
played back through the page's AudioWorklet. Also barge-in: playback stops and the played ms are reported."""

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

pytestmark = pytest.mark.browser


def relay_page_app(tmp_path: Path, fake: Any, book: ScriptBook) -> Any:
    """These tests are about the relay (/ws/voice carries the audio); WebRTC is tests/browser/test_webrtc_voice.py."""
    return voice_page_app(tmp_path, fake, book, transport="relay")


QUESTION = "What is the weather in Paris right now?"


async def test_spoken_question_reaches_the_realtime_session_and_the_answer_is_heard(
    tmp_path: Path, browser: Any, fake_openai: Any, artifacts: Path
) -> None:
    wav = spoken_wav(tmp_path, QUESTION)
    if wav is None:
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng)")
    rt = fake_openai.realtime
    rt.enable_audio_vad(threshold_rms=400, min_speech_ms=200, silence_ms=700)
    rt.queue_transcript(QUESTION)  # the words the fake "hears" in the audio its VAD finds
    app = relay_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=0.2)))
    async with serve(app) as server:
        mic_from_wav = f"--use-file-for-fake-audio-capture={wav}%noloop"  # played once, then silence
        tab = await open_voice_page(browser, server.http_url, [*MIC_ARGS, mic_from_wav])
        page = tab.page
        # The microphone's audio reaches the realtime session, and its VAD finds the spoken turn in it.
        await rt.until(lambda rt: rt.audio_bytes_received > 48_000, timeout=10, what="microphone audio")
        await rt.client_event("conversation.item.create", timeout=15)
        await rt.until(
            lambda rt: any(name == "ask_team" for name, _ in rt.function_calls()),
            timeout=15,
            what="the narrator's ask_team call",
        )
        # The team works; the timeline and the answer show; the narrator speaks the answer and the page plays it.
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=20_000)
        assert PARIS_ANSWER in await answer.inner_text()
        await rt.until(
            lambda rt: any(first_sentence(PARIS_ANSWER) in t for t in rt.spoken()), timeout=20, what="the answer spoken"
        )
        await page.wait_for_function("() => window.__voiceStats.bytesPlayed > 24000", timeout=15_000)
        voice = await voice_stats(page)
        assert voice["bytesSent"] > 48_000 and voice["micFramesSent"] > 25 and voice["bytesReceived"] > 0
        # Captions of both sides, live.
        await page.wait_for_selector(".caption[data-role=user]")
        user_caption = await page.inner_text(".caption[data-role=user]")
        assert "weather in Paris" in user_caption
        narrator_said = (
            "(s) => [...document.querySelectorAll('.caption[data-role=assistant]')]"
            ".some(c => c.textContent.includes(s))"
        )
        await page.wait_for_function(narrator_said, arg=first_sentence(PARIS_ANSWER), timeout=10_000)
        # The event log mirrors the realtime session: ▲ and ▼ rows, deltas folded, no key anywhere.
        sent = await log_names(page, "#event-log .log-row[data-kind=realtime][data-dir=sent]")
        received = await log_names(page, "#event-log .log-row[data-kind=realtime][data-dir=received]")
        assert "session.update" in sent and "session.updated" in received
        # Audio is summarised by the server (a row per stream per second), transcript deltas folded by the page.
        assert "input_audio_buffer.append" in sent and "response.output_audio.delta" in received
        folded = await log_names(page, "#event-log .log-row:has(.log-count:not([hidden]))")
        assert "response.output_audio_transcript.delta" in folded
        content = await expand_log(page)
        assert api_key_of(app) not in content
        assert not re.search(r"\b(sk-|ek_)[A-Za-z0-9_-]{8,}", content), "a key-shaped string reached the page"
        await page.screenshot(path=str(artifacts / "page-voice-1440x900.png"))
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.screenshot(path=str(artifacts / "page-voice-390x844.png"))
        await page.click("#talk")  # end the voice session
        await page.wait_for_selector("body[data-voice-state=off]")
        await rt.until(lambda rt: rt.open_sessions == 0, timeout=5, what="the realtime session closed")
        tab.assert_no_console_errors()
    fake_openai.assert_clean()


@pytest.mark.fake_openai(realistic_pacing=True, ms_per_word=400)
async def test_barge_in_stops_playback_at_once_and_reports_the_played_ms(
    tmp_path: Path, browser: Any, fake_openai: Any
) -> None:
    rt = fake_openai.realtime
    app = relay_page_app(tmp_path, fake_openai, ScriptBook(paris_script))
    async with serve(app) as server:
        tab = await open_voice_page(browser, server.http_url, MIC_ARGS)  # Chromium's default fake microphone
        page = tab.page
        # Typed while the voice session is live: the narrator gets it, hands it to the team, and speaks.
        await page.fill("#task-input", "Weather in Paris?")
        await page.keyboard.press("Enter")
        assert "Weather in Paris?" in await page.inner_text(".caption[data-role=user]")
        await page.wait_for_function(
            "() => window.__voiceStats.playing && window.__voiceStats.bytesPlayed > 48000", timeout=20_000
        )
        # The person speaks over the narrator: the server says playback.stop, the page drops its queue at once.
        await rt.aspeak_user("Wait, stop.")
        await page.wait_for_function("() => window.__voiceStats.bargeIns === 1", timeout=5_000)
        voice = await voice_stats(page)
        assert voice["lastPlayedMs"] > 0 and voice["bargeInStopMs"] < 250
        await rt.until(lambda rt: len(rt.truncations) == 1, timeout=5, what="conversation.item.truncate")
        cut = rt.truncations[0]
        assert abs(cut.audio_end_ms - voice["lastPlayedMs"]) <= 1
        assert await page.locator(".caption[data-role=assistant][data-interrupted=true]").count() == 1
        sent = await log_names(page, "#event-log .log-row[data-kind=voice][data-dir=sent]")
        assert "playback" in sent and "text" in sent
        # A realtime session error is explained; a dropped realtime connection comes back by itself.
        await rt.asend_event(
            {
                "type": "error",
                "error": {
                    "type": "server_error",
                    "code": "server_error",
                    "message": "The server had an error while processing.",
                },
            }
        )
        notice = page.locator(".notice[data-id=error-voice]")
        await notice.wait_for(timeout=5_000)
        assert "voice session reported a problem" in await notice.inner_text()
        assert "server had an error" in await notice.inner_text()
        await rt.adrop_connection()
        await rt.until(lambda rt: rt.sessions == 2 and rt.open_sessions == 1, timeout=10, what="a new realtime session")
        await page.wait_for_selector("body[data-voice-state=ready]", timeout=10_000)
        await expand_log(page, "#event-log .log-row[data-name='voice.state'] details")
        assert '"state": "reconnecting"' in await page.inner_text("#event-log")
        tab.assert_no_console_errors()
    fake_openai.assert_clean()
