"""The app under test with the page's router, a live server on a chosen port, and helpers shared by the
browser tests."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from app.main import create_app
from app.realtime.narrator.narrator import NarratorSettings
from tests.support.live_server import LiveServer, ScriptBook, make_settings
from tests.support.scripted import developer_tools, research_tools


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


def voice_page_app(tmp_path: Path, fake: Any, book: ScriptBook, **narrator: Any) -> FastAPI:
    """The page's app with the narrator pointed at the fake OpenAI server (chat stays scripted)."""
    narrator_settings = NarratorSettings(
        reconnect_delays_s=(0.05, 0.2), response_backoff_s=0.05, **{"max_progress_updates": 0, **narrator}
    )
    return page_app(tmp_path, book, narrator_settings, openai_base_url=fake.base_url)


def api_key_of(app: FastAPI) -> str:
    return app.state.services.settings.openai_api_key.get_secret_value()


@asynccontextmanager
async def serve(app: FastAPI, port: int = 0) -> AsyncIterator[LiveServer]:
    """Like tests.support.live_server.live_app, on a given port (so a test can stop the server and start it again)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws_max_size=4 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(app, server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


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
    return await page.content()


async def log_names(page: Any, rows: str) -> list[str]:
    """The event names of the log rows matching `rows` (a CSS selector of .log-row elements), in order."""
    return await page.evaluate(ROW_NAMES, rows)
