"""The recorded realtime sessions (tests/fakes/realtime/recordings.py) parse, and the fake's errors have their shape."""

from __future__ import annotations

import pytest

from tests.fakes import (
    FakeOpenAI,
)
from tests.fakes.realtime.recordings import RECORDINGS_DIR, parse_recording, recording_path, server_events
from tests.support.voice.realtime_client import connect_narrator, next_event

# ---- recordings ----------------------------------------------------------------------------------------

needs_recordings = pytest.mark.skipif(
    not (RECORDINGS_DIR / "narrated-team-session.log").exists(), reason=f"recordings not found in {RECORDINGS_DIR}"
)


@needs_recordings
def test_recordings_parser_counts() -> None:
    narrated = parse_recording(recording_path("narrated-team-session.log"))
    events = server_events(recording_path("narrated-team-session.log"))
    types = [e["type"] for e in events]
    assert (len(narrated), len(events), types.count("error"), types.count("response.audio_transcript.delta")) == (
        114,
        99,
        12,
        33,
    )
    assert {e.name for e in narrated if e.direction == "other"} == {"nested", "controller"}
    assert narrated[0].source_line == 1 and narrated[1].name == "session.created" and narrated[1].source_line == 7
    browser = parse_recording(recording_path("browser-voice-session.log"))
    assert [e.direction for e in browser].count("sent") == 3 and len(browser) == 77
    assert browser[0].time == "8:26:55 PM" and browser[0].payload == {"url": "/session"}
    browser_events = server_events(recording_path("browser-voice-session.log"))
    assert len(browser_events) == 71 and [e["type"] for e in browser_events].count("error") == 2


@needs_recordings
async def test_fake_errors_have_the_recorded_shape(fake: FakeOpenAI) -> None:
    recorded = next(
        e
        for e in server_events(recording_path("narrated-team-session.log"))
        if e["type"] == "error" and "'tool.output'" in e["error"]["message"]
    )
    conn = await connect_narrator(fake.async_client())
    await conn.send({"type": "tool.output", "output": "x"})
    await next_event(conn, "error")
    mine = fake.realtime.server_events_of("error")[-1]
    assert mine.keys() == recorded.keys() and mine["error"].keys() == recorded["error"].keys()
    assert {k: mine["error"][k] for k in ("type", "code", "param", "event_id")} == {
        k: recorded["error"][k] for k in ("type", "code", "param", "event_id")
    }
    assert mine["error"]["message"].split(" Supported")[0] == recorded["error"]["message"].split(" Supported")[0]
    await conn.close()
