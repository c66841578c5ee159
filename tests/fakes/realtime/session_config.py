"""The GA realtime session object: its defaults and how `session.update` merges into it."""

from __future__ import annotations

import copy
from typing import Any

PCM_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}

SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}

SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}

# Fields that a session.update replaces as a whole instead of merging key by key.
_REPLACED = {"format", "tools", "tool_choice", "tracing", "prompt", "include", "output_modalities", "truncation"}


def default_session(*, session_id: str, model: str, expires_at: int) -> dict[str, Any]:
    """What `session.created` carries on a fresh GA connection."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def _turn_detection_defaults(kind: str | None) -> dict[str, Any]:
    if kind == "semantic_vad":
        return dict(SEMANTIC_VAD_DEFAULTS)
    return dict(SERVER_VAD_DEFAULTS)


def _merge(current: Any, update: Any, key: str | None) -> Any:
    if key == "turn_detection":
        if update is None:
            return None
        if isinstance(current, dict) and current.get("type") == update.get("type", current.get("type")):
            return {**current, **update}
        return {**_turn_detection_defaults(update.get("type")), **update}
    if key in _REPLACED or not isinstance(update, dict) or not isinstance(current, dict):
        return copy.deepcopy(update)
    merged = dict(current)
    for k, v in update.items():
        merged[k] = _merge(current.get(k), v, k)
    return merged


def merge_session(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The effective session after a (validated) `session.update` with `update` as its `session`."""
    merged: dict[str, Any] = _merge(copy.deepcopy(current), update, None)
    return merged


def turn_detection(session: dict[str, Any]) -> dict[str, Any] | None:
    """The session's turn detection config (None when the client turned VAD off)."""
    return ((session.get("audio") or {}).get("input") or {}).get("turn_detection")


def transcription(session: dict[str, Any]) -> dict[str, Any] | None:
    """The input transcription config (None when off)."""
    return ((session.get("audio") or {}).get("input") or {}).get("transcription")


def input_format(session: dict[str, Any]) -> dict[str, Any]:
    return ((session.get("audio") or {}).get("input") or {}).get("format") or dict(PCM_FORMAT)


def output_voice(session: dict[str, Any]) -> Any:
    return ((session.get("audio") or {}).get("output") or {}).get("voice")


def function_names(tools: list[dict[str, Any]] | None) -> list[str]:
    """Names of the function tools in a session's or response's `tools`."""
    return [t.get("name", "") for t in tools or [] if t.get("type", "function") == "function" and t.get("name")]
