"""The /ws/team protocol as pydantic models: parsing of client messages and the JSON Schema we publish.

Server events are built as plain dicts on the hot path (one json.dumps each); the models below describe them
exactly and tests validate real traffic against them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    RATE_LIMITED = "rate_limited"
    NO_MODEL_ACCESS = "no_model_access"
    NO_ACTIVE_RUN = "no_active_run"
    NOT_PAUSED = "not_paused"
    ALREADY_PAUSED = "already_paused"
    TOO_MANY_FOLLOWUPS = "too_many_followups"
    UNKNOWN_SESSION = "unknown_session"
    AGENT_ERROR = "agent_error"
    MODEL_ERROR = "model_error"
    INTERNAL_ERROR = "internal_error"


# ---- client -> server ----------------------------------------------------------------------------------
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """Text made safe for a UTF-8 frame or the store: JSON escapes such as \\ud800 (from a client, a model or a
    JSON API) decode to lone surrogates, which UTF-8 cannot encode (one would kill a connection's writer or fail
    a store commit); they become U+FFFD. Applied where every message is serialized (event_log, voice_ws)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=128, description="Optional; echoed in error replies.")


class TaskMessage(_ClientMessage):
    """Start a run, or queue a follow-up when a run is active. `user_message` is the older clients' name."""

    type: Literal["task", "user_message"]
    text: str = Field(min_length=1, validation_alias=AliasChoices("text", "content", "task"))


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
CLIENT_MESSAGE = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset({"task", "user_message", "pause", "resume", "cancel", "reset", "status", "ping"})


# ---- server -> client ----------------------------------------------------------------------------------
class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int | None = Field(description="Per-session sequence number; null for replies to one connection only.")
    run_id: str | None
    session_id: str
    timestamp: str


class TeamEvent(_Envelope):
    """An AutoGen message or event, as `message.dump()` (TextMessage, ToolCallRequestEvent, ...)."""

    source: Literal["team"]
    type: str
    data: dict[str, Any]


class Usage(BaseModel):
    model_calls: int
    prompt_tokens: int
    completion_tokens: int


class RunStartedData(BaseModel):
    task: str
    followup: bool
    session_id: str


class RunFinishedData(BaseModel):
    final_answer: str = Field(description="The answer for the person, TERMINATE removed.")
    complete: bool = Field(description="True when the Manager gave a final answer.")
    stop_reason: Literal[
        "completed", "max_messages", "timeout", "cancelled", "reset", "closed", "error", "stopped", "interrupted"
    ]
    task: str
    duration_s: float
    usage: Usage
    messages: int
    error: str | None = None
    dropped_followups: list[str] | None = None


class SystemData(BaseModel):
    model_config = ConfigDict(extra="allow")
    event: Literal["connected", "state", "reset"]
    state: str | None = None
    message: str | None = None


class ErrorData(BaseModel):
    code: ErrorCode
    message: str
    id: str | None = None


class RunStartedEvent(_Envelope):
    source: Literal["system"]
    type: Literal["run_started"]
    data: RunStartedData


class RunFinishedEvent(_Envelope):
    source: Literal["system"]
    type: Literal["run_finished"]
    data: RunFinishedData


class SystemEvent(_Envelope):
    source: Literal["system"]
    type: Literal["system"]
    data: SystemData


class FollowupQueuedEvent(_Envelope):
    source: Literal["system"]
    type: Literal["followup_queued"]
    data: dict[str, Any]


class ErrorEvent(_Envelope):
    source: Literal["system"]
    type: Literal["error"]
    data: ErrorData


class PongEvent(_Envelope):
    source: Literal["system"]
    type: Literal["pong"]
    data: dict[str, Any]


class StatusEvent(_Envelope):
    source: Literal["system"]
    type: Literal["status"]
    data: dict[str, Any]


SystemMessage = Annotated[
    RunStartedEvent | RunFinishedEvent | SystemEvent | FollowupQueuedEvent | ErrorEvent | PongEvent | StatusEvent,
    Field(discriminator="type"),
]
SERVER_EVENT = TypeAdapter(TeamEvent | SystemMessage)


def validate_server_event(event: dict[str, Any]) -> BaseModel:
    """Validate one server event against the published protocol (used by tests)."""
    if event.get("source") == "team":
        return TeamEvent.model_validate(event)
    return TypeAdapter(SystemMessage).validate_python(event)


def protocol_schema() -> dict[str, Any]:
    """JSON Schema of both directions, served at GET /protocol.json."""
    return {
        "title": "Research team WebSocket protocol (/ws/team)",
        "version": PROTOCOL_VERSION,
        "client_to_server": CLIENT_MESSAGE.json_schema(),
        "server_to_client": SERVER_EVENT.json_schema(),
        "error_codes": [code.value for code in ErrorCode],
        "reconnect": "Connect with ?session=<session_id>&after=<last seq seen> to receive missed events first.",
    }
