"""What the browser tests share: the app that serves the page, a tab in Chromium (BrowserPage), opening the page
and its voice session, a spoken question as a WAV, and reading the page's event log."""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI

from app.core.voice_settings import VoiceSettings
from app.main import create_app
from app.realtime.narrator.narrator import NarratorSettings
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, make_settings
from tests.support.scripted import developer_tools, research_tools

MIC_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
"""Chromium's fake microphone, allowed without asking (add --use-file-for-fake-audio-capture=WAV to choose it)."""


@dataclass
class BrowserPage:
    """A page in a fresh Chromium profile, with everything the console said."""

    page: Any
    context: Any
    console_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, "console errors:\n" + "\n".join(self.console_errors)


def page_app(
    tmp_path: Path, book: ScriptBook | None, narrator: NarratorSettings | None = None, **settings: Any
) -> FastAPI:
    """The real app (create_app serves the page at /) with scripted team models (None: models from settings)."""
    return create_app(
        make_settings(tmp_path, **settings),
        model_clients=book,
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        configure_logs=False,
        narrator=narrator,
    )


def voice_page_app(
    tmp_path: Path,
    fake: FakeOpenAI,
    book: ScriptBook,
    transport: Literal["webrtc", "relay"] = "webrtc",
    api: Literal["realtime", "live"] = "realtime",
) -> FastAPI:
    """The page's app, the narrator pointed at the fake, voice over WebRTC (or the relay) explicitly."""
    narrator = NarratorSettings(reconnect_delays_s=(0.05, 0.2), response_backoff_s=0.05, max_progress_updates=0)
    voice = VoiceSettings(_env_file=None, voice_api=api, voice_transport=transport, live_progress_every_s=0.0)
    return page_app(tmp_path, book, narrator, openai_base_url=fake.base_url, voice=voice)


async def open_page(browser: Any, url: str, **launch: Any) -> BrowserPage:
    """A new tab on the page, once its /ws/team is open."""
    tab: BrowserPage = await browser(**launch)
    await tab.page.goto(url + "/")
    await tab.page.wait_for_selector("body[data-team-state=open]", timeout=10_000)
    return tab


async def open_voice_page(browser: Any, url: str, extra_args: list[str]) -> BrowserPage:
    """A new tab on the page with the microphone allowed, once Talk was pressed and the voice session is ready."""
    tab = await open_page(browser, url, extra_args=extra_args, permissions=["microphone"])
    await tab.page.click("#talk")
    await tab.page.wait_for_selector("body[data-voice-state=ready]", timeout=15_000)
    return tab


async def voice_stats(page: Any) -> dict[str, Any]:
    """What the page counted of its voice session (window.__voiceStats)."""
    result: dict[str, Any] = await page.evaluate("() => ({...window.__voiceStats})")
    return result


def api_key_of(app: FastAPI) -> str:
    return str(app.state.services.settings.openai_api_key.get_secret_value())


def spoken_wav(tmp_path: Path, text: str, *, lead_s: float = 0.6, tail_s: float = 2.0) -> Path | None:
    """`text` spoken by espeak-ng into a WAV with silence around it (so voice activity detection sees the turn
    start and end), or None without espeak-ng. Made at test time; nothing binary is committed."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    raw = tmp_path / "espeak.wav"
    subprocess.run([espeak, "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
    out = tmp_path / "question.wav"
    with wave.open(str(raw)) as src:
        params = src.getparams()
        frames = src.readframes(src.getnframes())
    silence = b"\x00" * params.sampwidth * params.nchannels
    with wave.open(str(out), "wb") as dst:
        dst.setparams(params)
        dst.writeframes(silence * int(lead_s * params.framerate) + frames + silence * int(tail_s * params.framerate))
    return out


# ---- the page's event log ------------------------------------------------------------------------------
OPEN_ROWS = """(selector) => {
  const rows = [...document.querySelectorAll(selector)];
  rows.forEach(d => { d.open = true; });
  return rows.length;
}"""
# Rows that arrive after OPEN_ROWS (a live call keeps logging) stay closed: wait only for the opened ones.
ROWS_RENDERED = "(selector) => [...document.querySelectorAll(selector)].every(d => !d.open || d.querySelector('pre'))"
ROW_NAMES = "(selector) => [...document.querySelectorAll(selector)].map(r => r.dataset.name)"


async def expand_log(page: Any, rows: str = "#event-log details") -> str:
    """Open rows of the event log (their JSON is rendered on open) and return the whole page's HTML."""
    await page.evaluate(OPEN_ROWS, rows)
    await page.wait_for_function(ROWS_RENDERED, arg=rows)
    return str(await page.content())


async def log_names(page: Any, rows: str) -> list[str]:
    """The event names of the log rows matching `rows` (a CSS selector of .log-row elements), in order."""
    return [str(name) for name in await page.evaluate(ROW_NAMES, rows)]
