"""GPT-Live events checked the way the real service does, with the installed SDK's `openai.types.live` types as
the schema: `TypeAdapter(ClientEvent)` is the gate, and the same recursive walk as for Realtime
(tests/fakes/realtime/validation.py) adds unknown keys (the Live session config is strict) and strict JSON types.

Stricter than the SDK's models where the docs are: `delegation_id` is "required, nullable" on thinking and
commentary (the SDK gives it a default), and their content is limited to 500 tokens.
"""

from __future__ import annotations

import math
from typing import Any

import pydantic
from openai.types.live import ClientEvent, ServerEvent

from tests.fakes.common.sdk_types import Issue, _check_model, _event_types, _invalid_type, _invalid_value, _json_kind

__all__ = ["LIVE_CLIENT_EVENT_TYPES", "estimate_tokens", "validate_live_client_event", "validate_live_server_event"]

LIVE_CLIENT_EVENT_TYPES: dict[str, type[pydantic.BaseModel]] = _event_types(ClientEvent)
LIVE_SERVER_EVENT_TYPES: dict[str, type[pydantic.BaseModel]] = _event_types(ServerEvent)
_CLIENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ClientEvent)
_SERVER_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ServerEvent)
MAX_APPEND_TOKENS = 500
_DELEGATED = ("session.thinking.append", "session.commentary.append")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free upper estimate (the fake has no network for BPE files): the larger of 4 characters a
    token and 4/3 tokens a word."""
    return max(math.ceil(len(text) / 4), math.ceil(len(text.split()) * 4 / 3))


def validate_live_client_event(event: Any) -> list[Issue]:
    """Every problem the real Live API would report for a client event (empty when it would accept it)."""
    if not isinstance(event, dict):
        return [
            Issue("invalid_type", None, f"Invalid type for event: expected an object, but got {_json_kind(event)}.")
        ]
    if "type" not in event:
        return [Issue("missing_required_parameter", "type", "Missing required parameter: 'type'.")]
    kind = event["type"]
    if not isinstance(kind, str):
        return [_invalid_type("type", kind, str)]
    if kind not in LIVE_CLIENT_EVENT_TYPES:
        return [_invalid_value("type", kind, sorted(LIVE_CLIENT_EVENT_TYPES))]
    issues = _check_model(event, LIVE_CLIENT_EVENT_TYPES[kind], "")
    if kind in _DELEGATED:
        if "delegation_id" not in event:
            issues.append(
                Issue("missing_required_parameter", "delegation_id", "Missing required parameter: 'delegation_id'.")
            )
        content = event.get("content")
        if isinstance(content, str) and estimate_tokens(content) > MAX_APPEND_TOKENS:
            issues.append(
                Issue("string_above_max_length", "content", f"'content' is longer than {MAX_APPEND_TOKENS} tokens.")
            )
    try:
        _CLIENT_ADAPTER.validate_python(event)
    except pydantic.ValidationError as exc:
        if not issues:
            first = exc.errors()[0]
            issues = [Issue("invalid_value", None, f"Invalid event: {first['msg']} at {first['loc']}.")]
    return issues


def validate_live_server_event(event: Any) -> list[str]:
    """Problems with a server event the fake is about to send (empty when the SDK parses it cleanly)."""
    try:
        _SERVER_ADAPTER.validate_python(event)
    except pydantic.ValidationError as exc:
        return [f"ServerEvent rejects it: {exc.errors()[:3]}"]
    model = LIVE_SERVER_EVENT_TYPES.get(event.get("type") or "")
    if model is None:
        return [f"unknown server event type {event.get('type')!r}"]
    return [f"{i.code}: {i.message}" for i in _check_model(event, model, "")]
