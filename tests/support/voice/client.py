"""The browser side of /ws/voice for tests and benches: a client that collects messages and counts audio, the
real app wired to the fake OpenAI server (voice_app) with either backend's settings, and what a voice session
costs by what the fake reported."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets
from fastapi import FastAPI

from app.core.default_models import DEFAULT_REALTIME_MODEL
from app.core.metrics import REGISTRY
from app.core.prices import default_voice_prices
from app.core.voice_settings import VoiceSettings
from app.main import create_app
from app.realtime.narrator.narrator import NarratorSettings
from tests.fakes.live.fake import LiveFake
from tests.fakes.realtime.brain import first_sentence
from tests.fakes.realtime.fake import RealtimeFake
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import LiveServer, ScriptBook, make_settings
from tests.support.scripted import PARIS_ANSWER, developer_tools, research_tools

SPOKEN_ANSWER = first_sentence(PARIS_ANSWER)
REALTIME = default_voice_prices()[DEFAULT_REALTIME_MODEL]
"""The default Realtime model's list prices."""


class VoiceClient:
    """The browser side of /ws/voice: collects JSON messages and counts audio bytes."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.messages: list[dict[str, Any]] = []
        self.audio_bytes = 0
        self.item_bytes: dict[str, int] = {}
        self._item = ""
        self._reader = asyncio.create_task(self._read())
        self._changed = asyncio.Event()

    async def _read(self) -> None:
        try:
            async for frame in self.conn:
                if isinstance(frame, bytes):
                    self.audio_bytes += len(frame)
                    self.item_bytes[self._item] = self.item_bytes.get(self._item, 0) + len(frame)
                else:
                    message = json.loads(frame)
                    if message["type"] == "audio.start":
                        self._item = message["item_id"]
                    self.messages.append(message)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def team_events(self, kind: str) -> list[dict[str, Any]]:
        return [m["event"] for m in self.of_type("team") if m["event"]["type"] == kind]

    async def until(self, predicate: Callable[[dict[str, Any]], object], timeout: float = 10.0) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        """Bytes go as they are (audio); anything else as its JSON (so a str arrives as a JSON string)."""
        await self.conn.send(message if isinstance(message, bytes) else json.dumps(message))

    async def close(self) -> None:
        await self.conn.close()
        await asyncio.wait({self._reader}, timeout=2)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def realtime_usd(fake: FakeOpenAI) -> float:
    """Every response.done's usage the fake Realtime server reported so far, at the default model's list price."""
    return float(
        sum(
            (
                u["input_token_details"]["text_tokens"] * REALTIME.text_input
                + u["input_token_details"]["audio_tokens"] * REALTIME.audio_input
                + u["output_token_details"]["text_tokens"] * REALTIME.text_output
                + u["output_token_details"]["audio_tokens"] * REALTIME.audio_output
            )
            / 1e6
            for u in (e["response"]["usage"] for e in fake.realtime.server_events_of("response.done"))
        )
    )


def live_usd(fake: FakeOpenAI) -> float:
    """The session duration the fake GPT-Live reported last, at $0.05 a minute."""
    reports = fake.live.server_events_of("session.usage.updated")
    return float(reports[-1]["usage"]["seconds"]) / 60 * 0.05 if reports else 0.0


async def settled(
    client: VoiceClient, matches: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """The page's latest voice.usage once it matches (the fake may still be finishing a response or a usage
    report when the test looks, and the page is told at most every VOICE_USAGE_EVERY_S)."""
    deadline = time.monotonic() + timeout
    while True:
        told = client.of_type("voice.usage")
        if told and matches(told[-1]):
            return told[-1]
        assert time.monotonic() < deadline, f"the page's voice.usage never settled: {told[-1:]}"
        await asyncio.sleep(0.05)


def realtime_settings(**values: Any) -> VoiceSettings:
    """The Realtime backend, nothing read from `.env`."""
    return VoiceSettings(_env_file=None, voice_api="realtime", **values)


def live_settings(**overrides: Any) -> VoiceSettings:
    """GPT-Live as the voice backend, with test pacing."""
    values: dict[str, Any] = {"voice_api": "live", "live_acknowledgement_delay_ms": 400, "live_progress_every_s": 0.0}
    return VoiceSettings(_env_file=None, **{**values, **overrides})


def voice_app(
    tmp_path: Path,
    fake: FakeOpenAI,
    book: ScriptBook,
    *,
    voice: VoiceSettings | None = None,
    settings: dict[str, Any] | None = None,
    **narrator: Any,
) -> FastAPI:
    """The app with its narrator on the fake OpenAI; `settings` overrides the server's (e.g. rate limits)."""
    server_settings = make_settings(
        tmp_path,
        **{
            "openai_api_key": "sk-fake-test-key",
            "openai_base_url": fake.base_url,
            "session_rate_per_min": 3,
            "voice": voice or VoiceSettings(_env_file=None, voice_api="realtime"),
            **(settings or {}),
        },
    )
    return create_app(
        server_settings,
        model_clients=book,
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        narrator=NarratorSettings(
            reconnect_delays_s=(0.05, 0.2), response_backoff_s=0.05, **{"max_progress_updates": 0, **narrator}
        ),
        configure_logs=False,
    )


async def open_voice(server: LiveServer) -> VoiceClient:
    client = VoiceClient(await websockets.connect(server.ws_url + "/ws/voice", max_size=None))
    await client.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
    return client


def live_spoke_answer(live: LiveFake) -> bool:
    return any(SPOKEN_ANSWER in text for text in live.spoken_text())


def spoken_with_answer(realtime: RealtimeFake) -> bool:
    return any(SPOKEN_ANSWER in text for text in realtime.spoken())
