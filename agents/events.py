"""What a TeamSession says: the typed payloads of its events and the error codes it can send.

The session builds these models; app/store/event_log.py wraps each in the protocol's envelope (seq, run_id, session,
timestamp), serializes it once and stores it; the store's run projection and the narrator read the models.
app/core/protocol.py publishes them as JSON Schema (GET /protocol.json).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.stop import StopReason


class ErrorCode(StrEnum):
    """Every `error.code` the server sends, on /ws/team, /ws/voice and in run_finished.error_code."""

    # bad input
    INVALID_JSON = "invalid_json"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    INVALID_AUDIO = "invalid_audio"
    RATE_LIMITED = "rate_limited"
    # commands refused
    NO_MODEL_ACCESS = "no_model_access"
    NO_ACTIVE_RUN = "no_active_run"
    NOT_PAUSED = "not_paused"
    ALREADY_PAUSED = "already_paused"
    TOO_MANY_FOLLOWUPS = "too_many_followups"
    NOT_FOUND = "not_found"
    TOO_MANY_SESSIONS = "too_many_sessions"
    TOO_MANY_RUNS = "too_many_runs"  # the user's runs in flight are at MAX_RUNS_PER_USER
    SPENDING_LIMIT = "spending_limit"  # the user's USD for the day (USER_USD_PER_DAY) is spent
    WORKER_UNAVAILABLE = "worker_unavailable"
    # a run failed
    AGENT_ERROR = "agent_error"
    MODEL_ERROR = "model_error"
    MODEL_NOT_FOUND = "model_not_found"  # the model a setting names does not exist (any more): the message names both
    MODEL_RATE_LIMITED = "model_rate_limited"
    MODEL_AUTH_FAILED = "model_auth_failed"
    MODEL_TIMEOUT = "model_timeout"
    STORE_UNAVAILABLE = "store_unavailable"
    INTERRUPTED = "interrupted"
    # the voice front
    REALTIME_ERROR = "realtime_error"
    LIVE_ERROR = "live_error"
    UNAUTHORIZED = "unauthorized"
    NO_SUCH_CALL = "no_such_call"
    INTERNAL_ERROR = "internal_error"


SessionStateName = Literal["idle", "running", "pausing", "paused"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_type: ClassVar[str]


class Usage(BaseModel):
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = Field(
        default=0, description="Of prompt_tokens, those the provider served from its prompt cache (priced apart)."
    )
    reasoning_tokens: int = Field(
        default=0, description="Of completion_tokens, the model's reasoning (billed as output)."
    )


class RunStarted(_Payload):
    event_type: ClassVar[str] = "run_started"
    task: str
    followup: bool
    session_id: str
    budget: dict[str, Any] | None = Field(default=None, description="The run's budget (calls, tokens, USD).")


class RunResumed(_Payload):
    """A run carried on by another worker after its worker stopped (app/distributed): from the checkpoint that
    covers `from_seq`; the step that was in flight then runs again."""

    event_type: ClassVar[str] = "run_resumed"
    task: str
    from_seq: int = Field(description="The last event the resumed run's state covers.")
    state: SessionStateName
    message: str


class SourceEntry(BaseModel):
    """One source of the answer, checked against what the run's tools returned (agents/manager/sources.py)."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="The source as the Manager gave it (a URL; a bare title or arXiv id otherwise).")
    title: str | None = Field(default=None, description="Its title, when a tool returned one.")
    verified: bool = Field(description="True when a tool of this run returned it (searched, fetched, looked up).")
    quote: str | None = Field(default=None, description="A short passage of what the team read of it.")


class RunFinished(_Payload):
    event_type: ClassVar[str] = "run_finished"
    final_answer: str = Field(description="The answer for the person, control words removed.")
    sources: list[str] = Field(default_factory=list, description="The answer's sources, when the Manager gave them.")
    source_entries: list[SourceEntry] | None = Field(
        default=None,
        description="`sources` again, in order, each checked against what the run's tools returned: verified or "
        "not, its title and the passage the team read. Absent from servers that do not check sources.",
    )
    complete: bool = Field(description="True when the Manager gave a final answer.")
    stop_reason: StopReason
    task: str
    duration_s: float
    usage: Usage
    messages: int
    error: str | None = None
    error_code: ErrorCode | None = None
    spent: dict[str, Any] | None = Field(default=None, description="What the run used of its budget.")
    dropped_followups: list[str] | None = None


class StateChanged(_Payload):
    event_type: ClassVar[str] = "system"
    event: Literal["state"] = "state"
    state: SessionStateName
    message: str | None = None


class SessionReset(_Payload):
    event_type: ClassVar[str] = "system"
    event: Literal["reset"] = "reset"
    state: Literal["idle"] = "idle"


class FollowupQueued(_Payload):
    event_type: ClassVar[str] = "followup_queued"
    text: str
    position: int
    state: SessionStateName


class RunError(_Payload):
    event_type: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    id: str | None = Field(default=None, description="The `id` of the client message this answers, if any.")


class TeamMessage(_Payload):
    """An AutoGen message or event as `message.dump()` (JSON-safe); `type` is its AutoGen type name."""

    event_type: ClassVar[str] = "team"
    type: str
    data: dict[str, Any]


SessionPayload = (
    RunStarted | RunResumed | RunFinished | StateChanged | SessionReset | FollowupQueued | RunError | TeamMessage
)
