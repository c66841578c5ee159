"""Test fakes: a local fake OpenAI server (chat completions, realtime WebSocket, client secrets) for
integration tests that use the real `openai` SDK, and a parser of recorded realtime sessions.

Start with `FakeOpenAI` (or the `fake_openai` pytest fixture from `tests.fakes.pytest_plugin`).
"""

from tests.fakes.chat import (
    ChatFake,
    ChatRequest,
    ChatScript,
    Delay,
    Dynamic,
    ErrorReply,
    Text,
    ToolCall,
    ToolCalls,
    default_role_of,
    delay,
    dynamic,
    error,
    rate_limited,
    server_error,
    text,
    tool_call,
    tool_calls,
)
from tests.fakes.common.sdk_types import Issue
from tests.fakes.live.fake import LiveFake, LiveOptions, Spoken
from tests.fakes.live.validation import validate_live_client_event, validate_live_server_event
from tests.fakes.realtime.brain import (
    Call,
    Failure,
    NarratorBrain,
    ResponsePlan,
    ResponseRequest,
    Say,
    SessionView,
    first_sentence,
)
from tests.fakes.realtime.client_secrets import ClientSecretCall, ClientSecretsFake
from tests.fakes.realtime.fake import ClientEventRecord, RealtimeFake, Rejection, Truncation, Violation
from tests.fakes.realtime.socket import SESSION_EXPIRED_MESSAGE
from tests.fakes.realtime.stream import ResponseRecord
from tests.fakes.realtime.validation import validate_client_event, validate_server_event
from tests.fakes.server import FakeOpenAI

__all__ = [
    "FakeOpenAI",
    "ChatScript",
    "ChatFake",
    "ChatRequest",
    "Text",
    "ToolCall",
    "ToolCalls",
    "ErrorReply",
    "Delay",
    "Dynamic",
    "text",
    "tool_call",
    "tool_calls",
    "error",
    "server_error",
    "rate_limited",
    "delay",
    "dynamic",
    "default_role_of",
    "RealtimeFake",
    "ClientEventRecord",
    "Rejection",
    "Violation",
    "Truncation",
    "ResponseRecord",
    "NarratorBrain",
    "ResponsePlan",
    "ResponseRequest",
    "SessionView",
    "Say",
    "Call",
    "Failure",
    "first_sentence",
    "ClientSecretsFake",
    "ClientSecretCall",
    "Issue",
    "validate_client_event",
    "validate_server_event",
    "SESSION_EXPIRED_MESSAGE",
    "LiveFake",
    "LiveOptions",
    "Spoken",
    "validate_live_client_event",
    "validate_live_server_event",
]
