"""Voice sessions per user (issue 22): each /ws/voice socket opens a paid upstream Realtime session on the
server's key, so relay sockets and WebRTC calls count together against VOICE_SESSIONS_PER_USER."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import websockets

from app.core.voice_settings import VoiceSettings
from app.main import create_app
from app.realtime.narrator.narrator import NarratorSettings
from tests.fakes.server import FakeOpenAI
from tests.support.live_server import ScriptBook, live_app, make_settings
from tests.support.scripted import developer_tools, research_tools
from tests.support.voice.client import VoiceClient

ALICE, BOB = "alice-token-" + "a" * 24, "bob-token-" + "b" * 24


def two_user_voice_app(tmp_path: Path, fake: FakeOpenAI, **voice: Any) -> Any:
    settings = make_settings(
        tmp_path,
        openai_api_key="sk-fake-test-key",
        openai_base_url=fake.base_url,
        app_users={"alice": ALICE, "bob": BOB},
        voice=VoiceSettings(_env_file=None, voice_api="realtime", **voice),
    )
    return create_app(
        settings,
        model_clients=ScriptBook(),
        researcher_tools=research_tools(),
        developer_tools=developer_tools,
        narrator=NarratorSettings(reconnect_delays_s=(0.05,), max_progress_updates=0),
        configure_logs=False,
    )


async def open_relay(server: Any, token: str, **params: str) -> VoiceClient:
    query = "&".join([f"token={token}", *(f"{k}={v}" for k, v in params.items())])
    return VoiceClient(await websockets.connect(f"{server.ws_url}/ws/voice?{query}", max_size=None))


async def test_one_user_cannot_open_more_upstream_voice_sessions_than_allowed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with live_app(two_user_voice_app(tmp_path, fake_openai, voice_sessions_per_user=3)) as server:
        first = await open_relay(server, ALICE)
        ready = await first.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
        session = ready["session_id"]
        held = [first] + [await open_relay(server, ALICE, session=session) for _ in range(2)]
        for client in held[1:]:
            await client.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
        attempts = [await open_relay(server, ALICE, session=session) for _ in range(37)]  # 40 sockets in all
        for client in attempts:
            refused = await client.until(lambda m: m["type"] == "error")
            assert refused["code"] == "too_many_sessions" and "VOICE_SESSIONS_PER_USER" in refused["message"]
        await fake_openai.realtime.until(lambda rt: rt.open_sessions == 3, what="3 upstream sessions")
        assert fake_openai.realtime.sessions == 3  # 40 sockets, 3 paid upstream sessions
        # A WebRTC call counts against the same limit.
        import httpx

        async with httpx.AsyncClient(base_url=server.http_url, headers={"Authorization": f"Bearer {ALICE}"}) as http:
            call = await http.post("/voice/calls", content="v=0\r\n", headers={"Content-Type": "application/sdp"})
        assert call.status_code == 429 and "VOICE_SESSIONS_PER_USER" in call.text, call.text
        bob = await open_relay(server, BOB)  # another user is served meanwhile
        await bob.until(lambda m: m["type"] == "voice.state" and m["state"] == "ready")
        await held[0].close()  # a place is free again once the server has closed that session
        for _ in range(50):
            again = await open_relay(server, ALICE)
            told = await again.until(lambda m: m["type"] == "error" or m.get("state") == "ready")
            if told["type"] != "error":
                break
            await again.close()
            await asyncio.sleep(0.1)
        assert told.get("state") == "ready", told
        for client in [*held[1:], *attempts, bob, again]:
            await client.close()


def test_the_old_setting_name_still_works_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        voice = VoiceSettings(_env_file=None, voice_calls_per_user=2)
    assert voice.voice_sessions_per_user == 2
    assert any("VOICE_SESSIONS_PER_USER" in r.getMessage() for r in caplog.records)
    assert VoiceSettings(_env_file=None).voice_sessions_per_user == 4
