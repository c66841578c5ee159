"""Parse the recorded realtime sessions in /work/shared/recordings (or $RECORDINGS_DIR).

Two formats:
- narrated-team-session.log: a header line (an event name, or the old app's own "nested"/"controller"), then a
  pretty-printed JSON object. Realtime server events are the blocks whose JSON `type` equals the header.
- browser-voice-session.log: "▲" (sent by the client) or "▼" (received), the name, a time line ("8:26:55 PM"),
  then the payload (JSON, or not).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["RecordedEvent", "RECORDINGS_DIR", "parse_recording", "server_events", "client_events", "recording_path"]

RECORDINGS_DIR = Path(os.environ.get("RECORDINGS_DIR", "/work/shared/recordings"))

_ARROWS = {"▲": "sent", "▼": "received"}
_TIME = re.compile(r"^\d{1,2}:\d{2}:\d{2}(\s?[AP]M)?$")


@dataclass(frozen=True)
class RecordedEvent:
    """One block of a recording."""

    direction: Literal["sent", "received", "other"]
    name: str
    time: str | None
    payload: dict[str, Any] | str | None
    source_line: int
    """1-based line of the block's first line in the file."""

    @property
    def is_server_event(self) -> bool:
        """A realtime API server event: received, JSON, its `type` is the block name, and it has an event_id."""
        return (
            self.direction == "received"
            and isinstance(self.payload, dict)
            and self.payload.get("type") == self.name
            and "event_id" in self.payload
        )


def recording_path(name: str) -> Path:
    """Path of a recording by file name (e.g. "narrated-team-session.log")."""
    return RECORDINGS_DIR / name


def _payload(lines: list[str]) -> dict[str, Any] | str | None:
    text = "\n".join(lines).strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _is_header(line: str) -> bool:
    return bool(line) and not line[0].isspace() and line[0] not in '{}[]"'


def _parse_browser(lines: list[str]) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    i = 0
    while i < len(lines):
        arrow = lines[i].strip()
        if arrow not in _ARROWS:
            i += 1
            continue
        start = i
        name = lines[i + 1].strip() if i + 1 < len(lines) else ""
        i += 2
        when = None
        if i < len(lines) and _TIME.match(lines[i].strip()):
            when = lines[i].strip()
            i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() not in _ARROWS:
            body.append(lines[i])
            i += 1
        events.append(RecordedEvent(_ARROWS[arrow], name, when, _payload(body), start + 1))  # type: ignore[arg-type]
    return events


def _parse_headed_json(lines: list[str]) -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    i = 0
    while i < len(lines):
        if not _is_header(lines[i]):
            i += 1
            continue
        start, name = i, lines[i].strip()
        i += 1
        body: list[str] = []
        while i < len(lines) and not _is_header(lines[i]):
            body.append(lines[i])
            i += 1
        payload = _payload(body)
        direction: Literal["sent", "received", "other"] = (
            "received" if isinstance(payload, dict) and payload.get("type") == name else "other"
        )
        events.append(RecordedEvent(direction, name, None, payload, start + 1))
    return events


def parse_recording(path: str | Path) -> list[RecordedEvent]:
    """All blocks of a recording, in file order (the format is detected from the content)."""
    # split on "\n" only: payloads contain U+2028 and similar, which str.splitlines() would break on
    lines = [ln.rstrip("\r") for ln in Path(path).read_text(encoding="utf-8").split("\n")]
    if any(line.strip() in _ARROWS for line in lines[:5]):
        return _parse_browser(lines)
    return _parse_headed_json(lines)


def server_events(path: str | Path) -> list[dict[str, Any]]:
    """Only the realtime API's server events of a recording, as dicts."""
    return [e.payload for e in parse_recording(path) if e.is_server_event]  # type: ignore[misc]


def client_events(path: str | Path) -> list[dict[str, Any]]:
    """The blocks the client sent whose payload is a JSON object with a `type` (browser log only)."""
    return [
        e.payload
        for e in parse_recording(path)
        if e.direction == "sent" and isinstance(e.payload, dict) and "type" in e.payload
    ]
