"""The openai SDK's Realtime client on the fake, as the fakes' self-tests drive it: a narrator-shaped session (the
narrator's tools, audio in and out), waiting for an event type, and the SDK's own check of server events."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
from openai.types.realtime import RealtimeServerEvent

SERVER_EVENT = pydantic.TypeAdapter(RealtimeServerEvent)


def tool_schema(name: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"{name} tool",
        "parameters": {
            "type": "object",
            "properties": {k: {"type": v} for k, v in props.items()},
            "required": list(props),
            "additionalProperties": False,
        },
    }


NARRATOR_SESSION: dict[str, Any] = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "instructions": "You are the narrator of a research team.",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "near_field"},
            "transcription": {"model": "gpt-transcribe"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    },
    "tools": [
        tool_schema("ask_team", task="string"),
        tool_schema("team_status"),
        tool_schema("pause_team"),
        tool_schema("resume_team"),
        tool_schema("cancel_team"),
    ],
    "tool_choice": "auto",
}


async def next_event(conn: Any, event_type: str, seen: list[Any] | None = None, timeout: float = 3.0) -> Any:
    """Receive until an event of `event_type` arrives (collecting the others in `seen`)."""
    while True:
        event = await asyncio.wait_for(conn.recv(), timeout)
        if seen is not None:
            seen.append(event)
        if event.type == event_type:
            return event


async def connect_narrator(client: Any) -> Any:
    manager = client.realtime.connect(model="gpt-realtime-2.1")
    conn = await manager.enter()
    assert (await conn.recv()).type == "session.created"
    await conn.send({"type": "session.update", "session": NARRATOR_SESSION})
    assert (await next_event(conn, "session.updated")).type == "session.updated"
    return conn
