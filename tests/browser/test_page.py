"""The voice page in Debian's headless Chromium (Playwright, executable_path), against the real app with
scripted models and the fake Realtime server. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live_server import ScriptBook, live_app
from tests.scripted import PARIS_ANSWER, paris_script
from tests.test_narrator import voice_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BASE_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--autoplay-policy=no-user-gesture-required"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]


async def launch(playwright, tmp_path: Path, extra: list[str] = ()):  # type: ignore[no-untyped-def]
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=[*BASE_ARGS, *extra],
                                            headless=True)


async def test_typed_task_shows_timeline_answer_and_log(tmp_path: Path, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server, async_playwright() as playwright:
        browser = await launch(playwright, tmp_path)
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(server.http_url + "/")
        await page.wait_for_selector("#conn-text:text('Connected')")
        # Keyboard only: Tab to the task box, type, Enter.
        await page.focus("#task-input")
        await page.keyboard.type("What's the weather in Paris right now?")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#answer:not([hidden])", timeout=15_000)
        answer = await page.inner_text("#answer-body")
        assert PARIS_ANSWER in answer and "TERMINATE" not in answer
        assert await page.get_attribute("#answer-body a", "href") == "https://weather.example/paris"
        timeline = await page.inner_text("#timeline")
        assert "web_search “current weather in Paris”" in timeline and "Manager" in timeline
        assert "Researcher" in timeline
        await page.click("#event-log >> xpath=..")  # open the log panel
        log = await page.inner_text("#event-log")
        assert "▲" in log and "▼" in log and "run_finished" in log
        content = await page.content()
        assert "sk-fake-test-key" not in content and "sk-test" not in content
        await page.wait_for_selector("#history li button")
        await page.screenshot(path=str(ARTIFACTS / "page-1440x900.png"), full_page=True)
        await page.set_viewport_size({"width": 390, "height": 844})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"horizontal overflow at phone width: {width}px"
        await page.screenshot(path=str(ARTIFACTS / "page-390x844.png"), full_page=True)
        # Accessibility: every button has a name; captions are live regions.
        names = await page.eval_on_selector_all(
            "button", "els => els.map(b => b.getAttribute('aria-label') || b.textContent.trim())")
        assert all(names)
        assert await page.get_attribute("#caption-user", "aria-live") == "polite"
        assert await page.get_attribute("#caption-assistant", "aria-live") == "polite"
        assert not problems, problems
        await browser.close()


async def test_spoken_task_reaches_the_realtime_session_and_narrator_audio_plays(tmp_path: Path, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import async_playwright

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    spoken = tmp_path / "spoken.wav"
    subprocess.run([espeak, "-w", str(spoken), "What is the weather in Paris right now?"], check=True)
    wav = tmp_path / "question.wav"
    sox = shutil.which("sox")
    if sox is None:
        pytest.skip("sox is not installed (apt-get install sox)")
    # Chromium loops the file: silence around the words lets voice activity detection see the turn end.
    subprocess.run([sox, str(spoken), "-r", "48000", str(wav), "pad", "0.5", "2.5"], check=True)
    fake_openai.realtime.queue_transcript("What is the weather in Paris right now?")
    fake_openai.realtime.enable_audio_vad(threshold_rms=300, min_speech_ms=200, silence_ms=600)
    book = ScriptBook(lambda: paris_script(researcher_delay=0.2))
    async with live_app(voice_app(tmp_path, fake_openai, book)) as server, async_playwright() as playwright:
        browser = await launch(playwright, tmp_path, ["--use-fake-ui-for-media-stream",
                                                      "--use-fake-device-for-media-stream",
                                                      f"--use-file-for-fake-audio-capture={wav}"])
        context = await browser.new_context(viewport={"width": 1440, "height": 900})
        await context.grant_permissions(["microphone"])
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(server.http_url + "/")
        await page.wait_for_selector("#conn-text:text('Connected')")
        await page.click("#talk")
        await fake_openai.realtime.until(lambda rt: rt.audio_bytes_received > 48_000, timeout=15,
                                         what="microphone audio at the realtime session")
        try:
            await page.wait_for_selector("#answer:not([hidden])", timeout=30_000)
        except Exception:
            rt = fake_openai.realtime
            print("DIAG", rt.client_event_types[-30:], rt.function_calls(), rt.spoken(), fake_openai.problems(),
                  await page.inner_text("#voice-state"), await page.inner_text("#banner"))
            raise
        await fake_openai.realtime.until(lambda rt: any("The current weather in Paris" in t for t in rt.spoken()),
                                         timeout=20, what="the answer spoken")
        await page.wait_for_function("window.__voiceStats.bytesPlayed > 0", timeout=15_000)
        stats = await page.evaluate("window.__voiceStats")
        assert stats["bytesSent"] > 48_000 and stats["bytesPlayed"] > 0
        caption = await page.inner_text("#caption-assistant")
        assert caption
        fake_openai.assert_clean()
        assert not problems, problems
        await page.screenshot(path=str(ARTIFACTS / "page-voice.png"), full_page=True)
        print("voice stats", json.dumps(stats))
        await browser.close()
