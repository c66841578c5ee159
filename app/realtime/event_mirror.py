"""The page's view of the realtime event log: every event the narrator sends or receives, secrets masked.

Audio events are the exception: 25-50 a second in each direction would drown the log (and cost the server a
JSON encode and a redaction pass each), so each audio stream becomes one row per second saying how many
frames and bytes went by. A pending audio row is written before the next event that is not itself a delta
(transcript deltas interleave with audio all through a response), so the log's order stays true to the turns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.core.redaction import Redactor

AUDIO_FIELDS = {
    "response.output_audio.delta": "delta",
    "response.audio.delta": "delta",
    "input_audio_buffer.append": "audio",
    "session.output_audio.delta": "delta",  # GPT-Live
    "session.input_audio.append": "audio",
}
AUDIO_ROW_EVERY_S = 1.0


@dataclass
class _AudioRun:
    frames: int = 0
    audio_bytes: int = 0
    started: float = 0.0


class EventMirror:
    def __init__(self, redactor: Redactor, to_browser: Callable[[str], None]) -> None:
        self._redactor = redactor
        self._to_browser = to_browser
        self._audio: dict[tuple[str, str], _AudioRun] = {}

    def mirror(self, direction: str, event: dict[str, Any]) -> None:
        name = str(event.get("type", "?"))
        field = AUDIO_FIELDS.get(name)
        if field is None:
            if not name.endswith(".delta"):
                self.flush()
            self._row(direction, name, self._redactor.redact(json.dumps(event, ensure_ascii=False, default=str)))
            return
        run = self._audio.setdefault((direction, name), _AudioRun(started=time.monotonic()))
        run.frames += 1
        run.audio_bytes += len(event.get(field) or "") * 3 // 4  # base64 length -> bytes
        if time.monotonic() - run.started >= AUDIO_ROW_EVERY_S:
            self._flush_audio(direction, name)

    def flush(self) -> None:
        """Write the pending audio rows (before another event, and when the connection ends)."""
        for direction, name in list(self._audio):
            self._flush_audio(direction, name)

    def _flush_audio(self, direction: str, name: str) -> None:
        run = self._audio.pop((direction, name))
        summary = {"type": name, "frames": run.frames, "audio_bytes": run.audio_bytes}
        self._row(direction, name, json.dumps(summary))

    def _row(self, direction: str, name: str, data_json: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        self._to_browser(
            f'{{"type": "realtime.log", "dir": "{direction}", "name": {json.dumps(name)}, '
            f'"time": "{now}", "data": {data_json}}}'
        )
