"""The fake `/v1/chat/completions`: scripted replies per role (replies.py, script.py), the real API's rules
(rules.py), the wire format (wire.py) and the endpoint (fake.py). Import from here."""

from tests.fakes.chat.fake import ChatFake
from tests.fakes.chat.replies import (
    Delay,
    Dynamic,
    ErrorReply,
    Reply,
    Text,
    ToolCall,
    ToolCalls,
    cut_off,
    delay,
    dynamic,
    empty,
    error,
    filtered,
    rate_limited,
    refusal,
    server_error,
    text,
    tool_call,
    tool_calls,
)
from tests.fakes.chat.rules import REASONING_TOKENS, RESOLVED_MODELS
from tests.fakes.chat.script import ChatRequest, ChatScript, default_role_of, estimate_tokens, message_text
from tests.fakes.chat.wire import PromptCache

__all__ = [
    "ChatScript",
    "ChatFake",
    "ChatRequest",
    "Text",
    "ToolCall",
    "ToolCalls",
    "ErrorReply",
    "Delay",
    "Dynamic",
    "Reply",
    "text",
    "tool_call",
    "tool_calls",
    "error",
    "server_error",
    "rate_limited",
    "delay",
    "dynamic",
    "empty",
    "refusal",
    "cut_off",
    "filtered",
    "default_role_of",
    "estimate_tokens",
    "message_text",
    "PromptCache",
    "REASONING_TOKENS",
    "RESOLVED_MODELS",
]
