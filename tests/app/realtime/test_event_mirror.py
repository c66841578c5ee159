"""The page's realtime log: audio frames summarised once a second per stream, everything else row by row."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from app.core.redaction import Redactor
from app.realtime.event_mirror import EventMirror


def audio(name: str, n_bytes: int) -> dict[str, str]:
    field = "audio" if name == "input_audio_buffer.append" else "delta"
    return {"type": name, field: base64.b64encode(b"\x00" * n_bytes).decode()}


def test_audio_rows_once_a_second_per_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])  # the clock event_mirror reads
    rows: list[dict[str, Any]] = []
    mirror = EventMirror(Redactor(["sk-" + "secret-value-123"]), lambda text: rows.append(json.loads(text)))
    for _ in range(17):  # 62.5 ms frames each way: the 17th is one second after the first
        mirror.mirror("sent", audio("input_audio_buffer.append", 1920))
        mirror.mirror("received", audio("response.output_audio.delta", 960))
        clock[0] += 0.0625
    assert [(r["dir"], r["data"]["frames"]) for r in rows] == [("sent", 17), ("received", 17)]
    assert rows[0]["data"]["audio_bytes"] == 17 * 1920 and rows[1]["data"]["audio_bytes"] == 17 * 960
    mirror.mirror("sent", audio("input_audio_buffer.append", 1920))
    mirror.mirror("received", {"type": "error", "error": {"message": "bad key sk-" + "secret-value-123"}})
    assert [r["name"] for r in rows[2:]] == ["input_audio_buffer.append", "error"]
    assert "secret-value-123" not in json.dumps(rows)
    mirror.flush()
    assert len(rows) == 4  # nothing was pending
