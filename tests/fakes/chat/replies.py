"""What a scripted chat completion answers: text, tool calls, an API error, a delay, a reply computed from the
request, and the ways real models misbehave (empty, refusal, cut off, filtered)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Text:
    """An assistant message; `content` None and a `refusal` is how the API refuses (see `refusal()`)."""

    content: str | None
    finish_reason: str = "stop"  # "length": cut off at the token limit; "content_filter": stopped by the filter
    refusal: str | None = None


@dataclass(frozen=True)
class ToolCall:
    """One tool call; `arguments` is a dict (sent as JSON) or a JSON string sent as is."""

    name: str
    arguments: str | Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), ensure_ascii=False)


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message with tool calls (finish_reason "tool_calls"), optionally with some content."""

    calls: tuple[ToolCall, ...]
    content: str | None = None
    finish_reason: str = "tool_calls"  # "length": the last call's arguments are cut off (see `cut_off`)


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error like OpenAI's (500 server_error, 429 rate_limit_exceeded with Retry-After, ...)."""

    status: int = 500
    message: str | None = None
    retry_after: float | None = None
    code: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Delay:
    """Wait `seconds`, then answer `then` (None: the next reply queued for the same role)."""

    seconds: float
    then: Reply | None = None


@dataclass(frozen=True)
class Dynamic:
    """Compute the reply from the request body: `fn(body) -> Reply | str | dict` (a dict is returned as the
    raw completion JSON). `fn` may be a coroutine function."""

    fn: Callable[[dict[str, Any]], Any]


Reply = Union[Text, ToolCalls, ErrorReply, Delay, Dynamic, str]


def text(content: str) -> Text:
    return Text(content)


def tool_call(name: str, arguments: str | Mapping[str, Any] | None = None, *, content: str | None = None) -> ToolCalls:
    """A reply with a single tool call."""
    return ToolCalls((ToolCall(name, arguments if arguments is not None else {}),), content)


def tool_calls(*calls: ToolCall | tuple[str, Mapping[str, Any] | str], content: str | None = None) -> ToolCalls:
    """A reply with several (parallel) tool calls: `tool_calls(("web_search", {...}), ("wikipedia_search", {...}))`."""
    return ToolCalls(tuple(c if isinstance(c, ToolCall) else ToolCall(c[0], c[1]) for c in calls), content)


def error(
    status: int = 500, message: str | None = None, *, retry_after: float | None = None, code: str | None = None
) -> ErrorReply:
    return ErrorReply(status, message, retry_after, code)


def server_error(message: str | None = None) -> ErrorReply:
    return ErrorReply(500, message)


def rate_limited(retry_after: float = 1.0) -> ErrorReply:
    return ErrorReply(429, None, retry_after, "rate_limit_exceeded", "tokens")


def delay(seconds: float, then: Reply | None = None) -> Delay:
    return Delay(seconds, then)


def dynamic(fn: Callable[[dict[str, Any]], Any]) -> Dynamic:
    return Dynamic(fn)


# ---- what real models do that scripts rarely do ----------------------------------------------------------


def empty() -> Text:
    """A turn with nothing in it (content "", finish_reason "stop")."""
    return Text("")


def refusal(message: str = "I'm sorry, but I can't help with that.") -> Text:
    """A refusal as the API gives it: content null, the words in the message's `refusal` field."""
    return Text(None, refusal=message)


def cut_off(reply: str | ToolCalls, keep: float = 0.5) -> Text | ToolCalls:
    """`reply` cut off by the token limit (finish_reason "length"): the text, or the last call's JSON
    arguments, stop after `keep` of their characters (a strict tool's schema cannot hold for a cut output)."""
    if isinstance(reply, str):
        return Text(reply[: int(len(reply) * keep)], finish_reason="length")
    *whole, last = reply.calls
    arguments = last.arguments_json()
    cut = ToolCall(last.name, arguments[: int(len(arguments) * keep)], last.id)
    return ToolCalls((*whole, cut), reply.content, finish_reason="length")


def filtered(content: str | None = None) -> Text:
    """A turn stopped by the content filter (finish_reason "content_filter"), with what came before, if any."""
    return Text(content, finish_reason="content_filter")
