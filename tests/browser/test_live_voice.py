"""The voice page over /ws/voice with GPT-Live as the backend (VOICE_API=live), in Chromium: the page shows
which backend speaks, the microphone's audio reaches the Live session, the person's turn (the fake's input
transcript events) becomes a delegation and a team run, and the answer is both heard (bytes played through the
AudioWorklet) and shown as text with its source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.core.voice_settings import VoiceSettings
from app.realtime.narrator.narrator import NarratorSettings
from tests.fakes.realtime.brain import first_sentence
from tests.support.browser import MIC_ARGS, BrowserPage, page_app
from tests.support.live_server import ScriptBook, serve
from tests.support.scripted import PARIS_ANSWER, PARIS_SOURCE, paris_script

pytestmark = pytest.mark.browser

QUESTION = "What is the weather in Paris right now?"


def live_page_app(tmp_path: Path, fake: Any, book: ScriptBook) -> FastAPI:
    voice = VoiceSettings(
        _env_file=None, voice_api="live", live_progress_every_s=0.0, voice_transport="relay"
    )  # the relay here; GPT-Live over WebRTC is in tests/browser/test_webrtc_voice.py

    narrator = NarratorSettings(reconnect_delays_s=(0.05, 0.2))
    return page_app(tmp_path, book, narrator, openai_base_url=fake.base_url, voice=voice)


async def test_gpt_live_answer_is_heard_and_shown(
    tmp_path: Path, browser: Any, fake_openai: Any, artifacts: Path
) -> None:
    live = fake_openai.live
    app = live_page_app(tmp_path, fake_openai, ScriptBook(lambda: paris_script(researcher_delay=0.2)))
    async with serve(app) as server:
        tab: BrowserPage = await browser(extra_args=MIC_ARGS, permissions=["microphone"])
        page = tab.page
        await page.goto(server.http_url + "/")
        await page.wait_for_selector("body[data-team-state=open]", timeout=10_000)
        await page.click("#talk")
        await page.wait_for_selector("body[data-voice-state=ready]", timeout=10_000)
        assert await page.inner_text("#voice-backend") == "GPT-Live"
        await live.until(lambda lv: lv.input_audio_bytes() > 24_000, timeout=10, what="microphone audio")
        await live.asay(QUESTION)
        answer = page.locator(".run .answer")
        await answer.wait_for(timeout=20_000)
        shown = await answer.inner_text()
        assert PARIS_ANSWER in shown
        await live.until(
            lambda lv: any(first_sentence(PARIS_ANSWER) in t for t in lv.spoken_text()), timeout=20, what="spoken"
        )
        await page.wait_for_function("() => window.__voiceStats.bytesPlayed > 24000", timeout=15_000)
        await page.wait_for_selector(".caption[data-role=user]")
        assert "weather in Paris" in await page.inner_text(".caption[data-role=user]")
        html = await page.content()
        assert PARIS_SOURCE.split("//")[-1].split("/")[0] in html  # the source stays on the page
        await page.screenshot(path=str(artifacts / "live-voice-answer.png"), full_page=True)
        (session, delegation_id, content), *_ = live.commentary
        assert delegation_id == live.delegations[0][1] and "https://" not in content
        tab.assert_no_console_errors()
        fake_openai.assert_clean()
