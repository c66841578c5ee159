"""Realtime events checked the way the real API checks them, with the installed SDK's types as the schema
(tests/fakes/common/sdk_types.py walks them).

Client events: `TypeAdapter(RealtimeClientEvent).validate_python(event)` is the authoritative gate, and the walk
adds what the SDK's permissive models let through but the real API rejects (unknown keys, wrong JSON types), in the
real API's wording and `code`/`param`.

Server events: the fake checks its own events against `RealtimeServerEvent` before sending them.
"""

from __future__ import annotations

from typing import Any

import pydantic
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.conversation_item import ConversationItem
from openai.types.realtime.realtime_response_create_params import RealtimeResponseCreateParams
from openai.types.realtime.response_create_event import ResponseCreateEvent
from openai.types.realtime.response_item_reference import ResponseItemReference

from tests.fakes.common.sdk_types import Issue, _check_model, _event_types, _invalid_type, _invalid_value, _json_kind

__all__ = ["CLIENT_EVENT_TYPES", "SERVER_EVENT_TYPES", "validate_client_event", "validate_server_event"]


class _ResponseCreateParamsWithReferences(RealtimeResponseCreateParams):
    """`response.input` may also hold `{"type": "item_reference", "id": ...}` (the SDK's *WithReferences* param)."""

    input: list[ConversationItem | ResponseItemReference] | None = None  # type: ignore[assignment]


class _ResponseCreateEventWithReferences(ResponseCreateEvent):
    response: _ResponseCreateParamsWithReferences | None = None


_CLIENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeClientEvent)
_CLIENT_WITH_REFERENCES_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(_ResponseCreateEventWithReferences)
_SERVER_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)


CLIENT_EVENT_TYPES: dict[str, type[pydantic.BaseModel]] = _event_types(RealtimeClientEvent)
"""Client event `type` -> SDK model, from the installed SDK's `RealtimeClientEvent` union."""

SERVER_EVENT_TYPES: dict[str, type[pydantic.BaseModel]] = _event_types(RealtimeServerEvent)

# The order the API lists them in its "Supported values" message (GA names).
_CLIENT_TYPE_ORDER = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
]
_CLIENT_TYPES_LISTED = [t for t in _CLIENT_TYPE_ORDER if t in CLIENT_EVENT_TYPES] + sorted(
    t for t in CLIENT_EVENT_TYPES if t not in _CLIENT_TYPE_ORDER
)


def validate_client_event(event: Any) -> list[Issue]:
    """All problems the real GA API would report for a client event (empty when it would accept it).

    The first issue is what the API reports in its `error` event.
    """
    if not isinstance(event, dict):
        return [
            Issue(
                "invalid_type",
                None,
                f"Invalid type for event: expected an object, but got {_json_kind(event)} instead.",
            )
        ]
    event_type = event.get("type")
    if "type" not in event:
        return [Issue("missing_required_parameter", "type", "Missing required parameter: 'type'.")]
    if not isinstance(event_type, str) or event_type not in CLIENT_EVENT_TYPES:
        if not isinstance(event_type, str):
            return [_invalid_type("type", event_type, str)]
        return [_invalid_value("type", event_type, _CLIENT_TYPES_LISTED)]
    model: type[pydantic.BaseModel] = CLIENT_EVENT_TYPES[event_type]
    if event_type == "response.create":
        model = _ResponseCreateEventWithReferences
    issues = _check_model(event, model, "")
    try:
        _CLIENT_ADAPTER.validate_python(event)
    except pydantic.ValidationError as exc:
        accepted_with_references = False
        if event_type == "response.create":
            try:
                _CLIENT_WITH_REFERENCES_ADAPTER.validate_python(event)
                accepted_with_references = True
            except pydantic.ValidationError:
                pass
        if not issues and not accepted_with_references:
            first = exc.errors()[0]
            issues = [Issue("invalid_value", None, f"Invalid event: {first['msg']} at {first['loc']}.")]
    return issues


# Keys the real server sends that the SDK does not model (the SDK types `session.created.session` as a
# create *request*); the fake may send them too.
_SERVER_EXTRA_KEYS_OK = {"session.id", "session.object", "session.expires_at"}


def validate_server_event(event: Any) -> list[str]:
    """Problems with a server event the fake is about to send (empty when the SDK parses it cleanly)."""
    problems: list[str] = []
    try:
        _SERVER_ADAPTER.validate_python(event)
    except pydantic.ValidationError as exc:
        problems.append(f"RealtimeServerEvent rejects it: {exc.errors()[:3]}")
        return problems
    event_type = event.get("type") if isinstance(event, dict) else None
    model = SERVER_EVENT_TYPES.get(event_type or "")
    if model is None:
        problems.append(f"unknown server event type {event_type!r}")
        return problems
    for issue in _check_model(event, model, ""):
        if issue.code == "unknown_parameter" and issue.param in _SERVER_EXTRA_KEYS_OK:
            continue
        problems.append(f"{issue.code}: {issue.message}")
    return problems
