"""The /ws/team protocol: client messages, and one discriminated union of every server event.

Producers build models (the session's payloads in agents/events.py, the replies below); the event log
wraps them in an envelope and serializes each once, at the edge (`to_json`). `/protocol.json` is generated from
these models, with the constants the page reads (app/static/js/protocol.js) so nothing is spelled twice.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)
from pydantic_core import PydanticSerializationError

from agents.events import (
    ErrorCode,
    FollowupQueued,
    RunError,
    RunFinished,
    RunResumed,
    RunStarted,
    SessionPayload,
    SessionReset,
    SessionStateName,
    StateChanged,
    TeamMessage,
    Usage,
)
from agents.manager.routing import NEXT_AGENT_FLAGS, NEXT_AGENT_PATTERN
from agents.stop import StopReason
from app.core.voice_protocol import VOICE_IN, VOICE_OUT

PROTOCOL_VERSION = 2
__all__ = ["ErrorCode", "StopReason", "Usage"]

# ---- client -> server ----------------------------------------------------------------------------------
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """Text made safe for a UTF-8 frame or the store: JSON escapes such as \\ud800 (from a client, a model or a
    JSON API) decode to lone surrogates, which UTF-8 cannot encode (one would kill a connection's writer or fail
    a store commit); they become U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=128, description="Optional; echoed in error replies.")


class TaskBudget(BaseModel):
    """A budget for this task's run, within the server's own limits (smaller values only)."""

    model_config = ConfigDict(extra="forbid")
    max_model_calls: int | None = Field(default=None, ge=1, le=10_000)
    max_tokens: int | None = Field(default=None, ge=1, le=100_000_000)
    max_usd: float | None = Field(default=None, gt=0, le=10_000)


class TaskMessage(_ClientMessage):
    """Start a run, or queue a follow-up when a run is active. `user_message` is the older clients' name."""

    type: Literal["task", "user_message"]
    text: str = Field(min_length=1, validation_alias=AliasChoices("text", "content", "task"))
    budget: TaskBudget | None = None


class PauseMessage(_ClientMessage):
    type: Literal["pause"]


class ResumeMessage(_ClientMessage):
    type: Literal["resume"]


class CancelMessage(_ClientMessage):
    type: Literal["cancel"]


class ResetMessage(_ClientMessage):
    type: Literal["reset"]


class StatusMessage(_ClientMessage):
    type: Literal["status"]


class PingMessage(_ClientMessage):
    type: Literal["ping"]


ClientMessage = Annotated[
    TaskMessage | PauseMessage | ResumeMessage | CancelMessage | ResetMessage | StatusMessage | PingMessage,
    Field(discriminator="type"),
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset({"task", "user_message", "pause", "resume", "cancel", "reset", "status", "ping"})


# ---- server -> client: replies to one connection (never stored) ------------------------------------------
class Connected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: Literal["connected"] = "connected"
    session_id: str
    resumed: bool
    last_seq: int
    state: SessionStateName
    protocol_version: int = PROTOCOL_VERSION
    model_access: bool
    user: str | None = None


class Status(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: SessionStateName
    run_id: str | None
    task: str | None
    elapsed_s: float | None
    messages: int
    last_speaker: str | None
    queued_followups: int
    usage: Usage


class Pong(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None


# ---- server -> client: envelopes -------------------------------------------------------------------------
class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int | None = Field(description="Per-session sequence number; null for replies to one connection only.")
    run_id: str | None
    session_id: str
    timestamp: str


class TeamEvent(_Envelope):
    """An AutoGen message or event, as `message.dump()` (TextMessage, ToolCallRequestEvent, ...)."""

    source: Literal["team"] = "team"
    type: str
    data: dict[str, Any]


class RunStartedEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["run_started"] = "run_started"
    data: RunStarted


class RunResumedEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["run_resumed"] = "run_resumed"
    data: RunResumed


class RunFinishedEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["run_finished"] = "run_finished"
    data: RunFinished


class SystemEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["system"] = "system"
    data: Annotated[Connected | StateChanged | SessionReset, Field(discriminator="event")]


class FollowupQueuedEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["followup_queued"] = "followup_queued"
    data: FollowupQueued


class ErrorEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["error"] = "error"
    data: RunError


class PongEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["pong"] = "pong"
    data: Pong


class StatusEvent(_Envelope):
    source: Literal["system"] = "system"
    type: Literal["status"] = "status"
    data: Status


def _event_tag(value: Any) -> str | None:
    """Team events carry AutoGen's type names; every other event is told apart by its `type`."""
    if isinstance(value, dict):
        source, kind = value.get("source"), value.get("type")
    else:
        source, kind = getattr(value, "source", None), getattr(value, "type", None)
    return "team" if source == "team" else kind if isinstance(kind, str) else None


ServerEvent = Annotated[
    Annotated[TeamEvent, Tag("team")]
    | Annotated[RunStartedEvent, Tag("run_started")]
    | Annotated[RunResumedEvent, Tag("run_resumed")]
    | Annotated[RunFinishedEvent, Tag("run_finished")]
    | Annotated[SystemEvent, Tag("system")]
    | Annotated[FollowupQueuedEvent, Tag("followup_queued")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[PongEvent, Tag("pong")]
    | Annotated[StatusEvent, Tag("status")],
    Discriminator(_event_tag),
]
SERVER_EVENT: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
AnyServerEvent = (
    TeamEvent
    | RunStartedEvent
    | RunResumedEvent
    | RunFinishedEvent
    | SystemEvent
    | FollowupQueuedEvent
    | ErrorEvent
    | PongEvent
    | StatusEvent
)

_ENVELOPES: dict[type[BaseModel], type[_Envelope]] = {
    RunStarted: RunStartedEvent,
    RunResumed: RunResumedEvent,
    RunFinished: RunFinishedEvent,
    StateChanged: SystemEvent,
    SessionReset: SystemEvent,
    Connected: SystemEvent,
    FollowupQueued: FollowupQueuedEvent,
    RunError: ErrorEvent,
    Pong: PongEvent,
    Status: StatusEvent,
}
ReplyPayload = Connected | Pong | Status | RunError


def wrap(
    payload: SessionPayload | ReplyPayload, *, seq: int | None, run_id: str | None, session_id: str, timestamp: str
) -> AnyServerEvent:
    """The envelope for a payload (no validation again: the payload is already a model)."""
    common: dict[str, Any] = {"seq": seq, "run_id": run_id, "session_id": session_id, "timestamp": timestamp}
    if isinstance(payload, TeamMessage):
        return TeamEvent.model_construct(source="team", type=payload.type, data=payload.data, **common)
    envelope = _ENVELOPES[type(payload)]
    fields = {name: field.default for name, field in envelope.model_fields.items() if name in ("source", "type")}
    values = {**fields, "data": payload, **common}
    return cast(AnyServerEvent, envelope.model_construct(**values))  # _ENVELOPES pairs each payload with its event


def to_json(event: AnyServerEvent) -> tuple[str, bool]:
    """(JSON text, clean) for an event. `clean` is False when lone surrogates had to be replaced, i.e. the text
    no longer matches the model exactly (the caller then re-reads the model from the text)."""
    try:
        return event.model_dump_json(), True
    except PydanticSerializationError:  # lone surrogates: UTF-8 cannot encode them
        return printable(json.dumps(event.model_dump(mode="python"), ensure_ascii=False, default=str)), False


def parse_event(text: str) -> AnyServerEvent:
    """The model of one event's JSON text (stored events, tests)."""
    return SERVER_EVENT.validate_json(text)


def protocol_schema() -> dict[str, Any]:
    """JSON Schema of both directions, served at GET /protocol.json, and the constants the page reads."""
    return {
        "title": "Research team WebSocket protocol (/ws/team)",
        "version": PROTOCOL_VERSION,
        "client_to_server": CLIENT_MESSAGE.json_schema(),
        "server_to_client": SERVER_EVENT.json_schema(),
        "error_codes": [code.value for code in ErrorCode],
        "stop_reasons": [reason.value for reason in StopReason],
        "constants": {
            "next_agent_pattern": NEXT_AGENT_PATTERN,
            "next_agent_flags": NEXT_AGENT_FLAGS,
            "system_event_types": sorted(
                {"run_started", "run_resumed", "run_finished", "system", "followup_queued", "error", "pong", "status"}
            ),
        },
        "voice": {
            "title": "The voice page's socket (/ws/voice): JSON text frames; binary frames are PCM16 24 kHz audio",
            "client_to_server": VOICE_IN.json_schema(),
            "server_to_client": VOICE_OUT.json_schema(),
        },
        "reconnect": "Connect with ?session=<session_id>&after=<last seq seen> to receive missed events first.",
    }
