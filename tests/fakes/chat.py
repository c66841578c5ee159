"""Scripted chat completions: replies queued per role (manager, researcher, developer, selector).

    script = ChatScript()
    script.add("manager", "Find the weather in Paris.\\nNEXT AGENT: Researcher")
    script.add("researcher", tool_call("web_search", {"query": "weather Paris"}), "It is 18 C and sunny.")
    script.add("manager", "It is 18 C and sunny in Paris.\\nTERMINATE")

The role of a request comes from `role_of(body)`: by default "selector" for AutoGen's selector prompt
("... select the next role ..."), else the lowercased name in "You are the (Manager|Researcher|Developer)"
of the first system message, else "unknown". An empty queue answers HTTP 500 naming the role, so the test fails
loudly (use `script.fallback(role, reply)` for a reply that repeats).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import inspect
import json
import math
import re
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.ids import new_chat_call_id, new_id
from tests.fakes.models import ModelCatalog, chat_refusal, model_not_found_body

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
]


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


_CHAT_PARAMS = frozenset(
    CompletionCreateParamsBase.__required_keys__ | CompletionCreateParamsBase.__optional_keys__ | {"stream"}
)
"""Top-level parameters of `POST /v1/chat/completions` (from the installed SDK's `CompletionCreateParams`)."""

RESOLVED_MODELS = {
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
}
"""Aliases the real API answers with a dated snapshot in the completion's `model` (AutoGen checks this)."""

REASONING_TOKENS = {"minimal": 8, "low": 32, "medium": 128, "high": 512, "xhigh": 1024, "max": 2048}
"""Reasoning tokens the fake reports per effort (a reasoning model without `reasoning_effort` at its default): in
completion_tokens and in `completion_tokens_details.reasoning_tokens`, as a reasoning model reports them."""

_ROLE_RE = re.compile(r"You are the (Manager|Researcher|Developer)\b")
_SELECTOR_RE = re.compile(r"select the next role", re.IGNORECASE)


def message_text(message: Mapping[str, Any]) -> str:
    """All text of a chat message: string content, text parts, tool call names and arguments."""
    content = message.get("content")
    parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        parts.append(str(function.get("name", "")) + str(function.get("arguments", "")))
    return "\n".join(parts)


def default_role_of(body: Mapping[str, Any]) -> str:
    """ "selector" for AutoGen's selector prompt, else manager/researcher/developer from the first system
    message's "You are the <Name>", else "unknown"."""
    messages = list(body.get("messages") or [])
    if messages and _SELECTOR_RE.search(message_text(messages[0])):
        return "selector"
    for message in messages:
        if message.get("role") in ("system", "developer"):
            if _SELECTOR_RE.search(message_text(message)):
                return "selector"
            match = _ROLE_RE.search(message_text(message))
            return match.group(1).lower() if match else "unknown"
    return "unknown"


def estimate_tokens(chars: int) -> int:
    """About four characters per token, at least one."""
    return max(1, math.ceil(chars / 4))


class ChatScript:
    """Queues of scripted replies per role key (thread-safe)."""

    def __init__(self, role_of: Callable[[Mapping[str, Any]], str] = default_role_of) -> None:
        self.role_of = role_of
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._fallbacks: dict[str, Reply] = {}

    def add(self, role: str, *replies: Reply) -> ChatScript:
        """Queue replies for `role` (a str is a text reply)."""
        with self._lock:
            self._queues[role.lower()].extend(replies)
        return self

    def extend(self, role: str, replies: Sequence[Reply]) -> ChatScript:
        return self.add(role, *replies)

    def fallback(self, role: str, reply: Reply) -> ChatScript:
        """A reply used (again and again) when `role`'s queue is empty."""
        with self._lock:
            self._fallbacks[role.lower()] = reply
        return self

    def remaining(self, role: str | None = None) -> int:
        with self._lock:
            if role is None:
                return sum(len(q) for q in self._queues.values())
            return len(self._queues[role.lower()])

    def pop(self, role: str) -> Reply | None:
        """The next reply for `role` (its fallback when the queue is empty, None when there is neither)."""
        with self._lock:
            queue = self._queues[role.lower()]
            if queue:
                return queue.popleft()
            return self._fallbacks.get(role.lower())


@dataclass
class ChatRequest:
    """One chat completion request as the fake saw it."""

    index: int
    role: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    stream: bool
    body: dict[str, Any]
    reply: Reply | None = None
    status: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefix_tokens: int = 0  # tokens at the start of the prompt already sent in an earlier request (same model)
    cached_tokens: int = 0  # what OpenAI's prompt cache would serve of them (see PromptCache)
    reasoning_tokens: int = 0  # of completion_tokens: REASONING_TOKENS[reasoning_effort]
    time: float = field(default_factory=time.time)

    @property
    def tool_names(self) -> list[str]:
        return [str((t.get("function") or {}).get("name", "")) for t in self.tools]


class ChatFake:
    """The chat completions endpoint: a `ChatScript` plus everything observed (thread-safe)."""

    def __init__(self, script: ChatScript | None = None, models: ModelCatalog | None = None) -> None:
        self.script = script or ChatScript()
        self.models = models or ModelCatalog()
        self._lock = threading.Lock()
        self._requests: list[ChatRequest] = []
        self._unscripted: list[ChatRequest] = []
        self._rejected: list[tuple[dict[str, Any], str]] = []
        self._refused: list[tuple[dict[str, Any], str]] = []
        self.cache = PromptCache()

    # ---- scripting shortcuts ------------------------------------------------------------------------
    def add(self, role: str, *replies: Reply) -> ChatScript:
        return self.script.add(role, *replies)

    def fallback(self, role: str, reply: Reply) -> ChatScript:
        return self.script.fallback(role, reply)

    # ---- observations -------------------------------------------------------------------------------
    @property
    def requests(self) -> list[ChatRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def unscripted(self) -> list[ChatRequest]:
        """Requests that found no scripted reply (answered 500)."""
        with self._lock:
            return list(self._unscripted)

    @property
    def rejected(self) -> list[tuple[dict[str, Any], str]]:
        """(body, parameter) of requests refused for a parameter the API does not know (answered 400)."""
        with self._lock:
            return list(self._rejected)

    @property
    def refused(self) -> list[tuple[dict[str, Any], str]]:
        """(body, error message) of requests the real API would refuse for their model: a model that is shut
        down or unknown (404 model_not_found), a parameter a reasoning model does not take (400)."""
        with self._lock:
            return list(self._refused)

    def calls(self, role: str) -> list[ChatRequest]:
        return [r for r in self.requests if r.role == role.lower()]

    def count(self, role: str | None = None) -> int:
        return len(self.requests) if role is None else len(self.calls(role))

    def usage(self, role: str | None = None) -> dict[str, int]:
        """Prompt/completion/total tokens reported in successful replies (of one role, or all)."""
        done = [r for r in (self.requests if role is None else self.calls(role)) if r.status == 200]
        prompt = sum(r.prompt_tokens for r in done)
        completion = sum(r.completion_tokens for r in done)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "calls": len(done),
        }

    def roles(self) -> list[str]:
        """Role of each request, in order."""
        return [r.role for r in self.requests]

    # ---- endpoint -----------------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as exc:
            return _error_response(
                400, f"We could not parse the JSON body of your request. ({exc})", "invalid_request_error", None
            )
        for required in ("model", "messages"):
            if required not in body:
                return _error_response(
                    400,
                    f"Missing required parameter: '{required}'.",
                    "invalid_request_error",
                    "missing_required_parameter",
                    param=required,
                )
        unknown = sorted(set(body) - _CHAT_PARAMS)
        if unknown:
            with self._lock:
                self._rejected.append((copy.deepcopy(body), unknown[0]))
            return _error_response(
                400, f"Unrecognized request argument supplied: {unknown[0]}", "invalid_request_error", None
            )
        served = self.models.get(str(body["model"]))
        if served is None:
            with self._lock:
                self._refused.append((copy.deepcopy(body), "model_not_found"))
            return JSONResponse(model_not_found_body(str(body["model"])), status_code=404)
        refused = chat_refusal(served, body)
        if refused is not None:
            status, error_body = refused
            with self._lock:
                self._refused.append((copy.deepcopy(body), str(error_body["error"]["message"])))
            return JSONResponse(error_body, status_code=status)
        invalid = tool_choice_error(body)
        if invalid is not None:
            with self._lock:
                self._rejected.append((copy.deepcopy(body), f"tool_choice: {invalid}"))
            param = "parallel_tool_calls" if "'parallel_tool_calls'" in invalid else "tool_choice"
            return _error_response(400, invalid, "invalid_request_error", None, param=param)
        role = self.script.role_of(body)
        with self._lock:
            record = ChatRequest(
                index=len(self._requests),
                role=role,
                model=str(body["model"]),
                messages=copy.deepcopy(body["messages"]),
                tools=copy.deepcopy(body.get("tools") or []),
                stream=bool(body.get("stream")),
                body=copy.deepcopy(body),
            )
            self._requests.append(record)
        reply = self.script.pop(role)
        return await self._answer(record, body, reply)

    async def _answer(self, record: ChatRequest, body: dict[str, Any], reply: Reply | None) -> Response:
        while True:
            if reply is None:
                with self._lock:
                    self._unscripted.append(record)
                record.status = 500
                return _error_response(
                    500,
                    f"FakeOpenAI: no scripted chat reply left for role '{record.role}' (model "
                    f"{record.model!r}, request #{record.index}). Script it with fake.chat.add('{record.role}', ...).",
                    "server_error",
                    "fake_script_exhausted",
                )
            record.reply = reply
            if isinstance(reply, Delay):
                await asyncio.sleep(reply.seconds)
                reply = reply.then if reply.then is not None else self.script.pop(record.role)
                continue
            if isinstance(reply, Dynamic):
                result = reply.fn(copy.deepcopy(body))
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, dict):
                    return JSONResponse(result)
                reply = result
                continue
            if isinstance(reply, str):
                reply = Text(reply)
            if isinstance(reply, ErrorReply):
                record.status = reply.status
                return _reply_error(reply, record.model)
            assert isinstance(reply, (Text, ToolCalls)), f"unsupported scripted reply {reply!r}"
            impossible = reply_violation(body, reply)
            if impossible is not None:
                with self._lock:
                    self._rejected.append((copy.deepcopy(body), f"scripted reply: {impossible}"))
                record.status = 500
                return _error_response(
                    500, f"FakeOpenAI: the scripted reply is impossible here: {impossible}", "server_error", None
                )
            return self._completion(record, body, reply)

    def _completion(self, record: ChatRequest, body: dict[str, Any], reply: Text | ToolCalls) -> Response:
        # Like the real API, tool definitions count as prompt tokens too.
        tool_chars = len(json.dumps(record.tools)) if record.tools else 0
        prompt_chars = sum(len(message_text(m)) for m in record.messages) + tool_chars
        content = reply.content
        refused = reply.refusal if isinstance(reply, Text) else None
        calls = [
            {
                "id": c.id or new_chat_call_id(),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json()},
            }
            for c in (reply.calls if isinstance(reply, ToolCalls) else ())
        ]
        completion_chars = len((content or "") + (refused or "")) + sum(
            len(c["function"]["name"]) + len(c["function"]["arguments"]) for c in calls
        )
        record.prompt_tokens = estimate_tokens(prompt_chars)
        served = self.models.get(record.model)
        effort = body.get("reasoning_effort") or (
            served.default_effort if served and served.kind == "reasoning" else None
        )
        record.reasoning_tokens = REASONING_TOKENS.get(str(effort), 0)  # a reasoning model reasons at its default
        record.completion_tokens = estimate_tokens(completion_chars) + record.reasoning_tokens  # billed as output
        with self._lock:
            record.prefix_tokens, record.cached_tokens = self.cache.lookup(record.model, record.tools, record.messages)
        record.prefix_tokens = min(record.prefix_tokens, record.prompt_tokens)
        record.cached_tokens = min(record.cached_tokens, record.prompt_tokens)
        usage = {
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "total_tokens": record.prompt_tokens + record.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": record.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": record.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        finish = reply.finish_reason if calls or isinstance(reply, Text) else "stop"
        model = RESOLVED_MODELS.get(record.model, record.model)
        completion_id = new_id("chatcmpl", 29)
        created = int(time.time())
        headers = {"x-request-id": new_id("req", 32)}
        if record.stream:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _sse(completion_id, created, model, content, calls, finish, usage, include_usage, refused),
                media_type="text/event-stream",
                headers=headers,
            )
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refused, "annotations": []}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            },
            headers=headers,
        )


# ---- tool_choice, strict tools and the prompt cache, as the real API has them ------------------------------


_ONLY_WITH_TOOLS = "'{}' is only allowed when 'tools' are specified."


def tool_choice_error(body: Mapping[str, Any]) -> str | None:
    """The 400 message the real API gives for this request's tool_choice, or None when it is valid."""
    if "parallel_tool_calls" in body and not _tool_names(body):
        return f"Invalid value for 'parallel_tool_calls': {_ONLY_WITH_TOOLS.format('parallel_tool_calls')}"
    if "tool_choice" not in body:
        return None
    choice, names = body["tool_choice"], _tool_names(body)
    if not names:
        return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    if choice in ("none", "auto", "required"):
        return None
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name in names:
            return None
        return f"Invalid value for 'tool_choice': no function named {name!r} was specified in the 'tools' parameter."
    return f"Invalid value for 'tool_choice': {choice!r}."


def reply_violation(body: Mapping[str, Any], reply: Text | ToolCalls) -> str | None:
    """Why the real API could never answer this request with `reply` (tool_choice, strict schemas), or None."""
    choice = body.get("tool_choice", "auto")
    calls = reply.calls if isinstance(reply, ToolCalls) else ()
    if choice == "none" and calls:
        return "tool calls although tool_choice is 'none'"
    if choice == "required" and not calls:
        return "a text reply although tool_choice is 'required'"
    if body.get("parallel_tool_calls") is False and len(calls) > 1:
        return f"{len(calls)} tool calls although parallel_tool_calls is false"
    if isinstance(choice, Mapping):
        forced = (choice.get("function") or {}).get("name")
        if [c.name for c in calls] != [forced]:
            return f"tool_choice forces one call of {forced!r}, the script answers {[c.name for c in calls]}"
    tools = {str((t.get("function") or {}).get("name")): t.get("function") or {} for t in body.get("tools") or []}
    if isinstance(reply, ToolCalls) and reply.finish_reason == "length":
        return None  # cut off: strict schemas hold only for whole outputs
    for call in calls:
        problem = _strict_violation(tools.get(call.name) or {}, call.arguments_json())
        if problem:
            return f"{call.name}: {problem}"
    return None


def _tool_names(body: Mapping[str, Any]) -> set[str]:
    return {str((t.get("function") or {}).get("name")) for t in body.get("tools") or []}


def _strict_violation(function: Mapping[str, Any], arguments: str) -> str | None:
    """A strict tool's arguments always match its schema: every property present, no other, enums obeyed."""
    if not function.get("strict"):
        return None
    try:
        args = json.loads(arguments)
    except ValueError:
        return "arguments are not JSON, impossible with strict: true"
    properties = (function.get("parameters") or {}).get("properties") or {}
    if not isinstance(args, dict) or set(args) != set(properties):
        return f"arguments {sorted(args) if isinstance(args, dict) else args!r} differ from {sorted(properties)}"
    for name, spec in properties.items():
        if "enum" in spec and args[name] not in spec["enum"]:
            return f"{name}={args[name]!r} is not one of {spec['enum']}"
    return None


class PromptCache:
    """Which part of a prompt an earlier request (same model) already began with, and what OpenAI's prompt
    cache would serve of it: nothing under 1024 tokens, then in steps of 128 tokens.

    A prompt is its tool definitions, then its messages; the shared prefix is counted in whole messages (a
    little less than the token-level truth). Bounded: it remembers the last `max_prefixes` prefixes per model.
    """

    MIN_TOKENS, STEP = 1024, 128

    def __init__(self, max_prefixes: int = 20_000) -> None:
        self._seen: dict[str, OrderedDict[str, None]] = defaultdict(OrderedDict)
        self._max = max_prefixes

    def lookup(self, model: str, tools: Sequence[Any], messages: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """(prefix_tokens, cached_tokens) of this prompt; then remember its prefixes."""
        parts = [(json.dumps(tools) if tools else "", len(json.dumps(tools)) if tools else 0)]
        parts += [(json.dumps([m.get("role"), m.get("name"), message_text(m)]), len(message_text(m))) for m in messages]
        seen, digest, shared_chars, matching = self._seen[model], hashlib.sha256(), 0, True
        for key, chars in parts:
            digest.update(key.encode())
            prefix = digest.hexdigest()
            if matching and prefix in seen:
                shared_chars += chars
                seen.move_to_end(prefix)
            else:
                matching = False
                seen[prefix] = None
        while len(seen) > self._max:
            seen.popitem(last=False)
        tokens = estimate_tokens(shared_chars) if shared_chars else 0
        cached = 0 if tokens < self.MIN_TOKENS else tokens - (tokens - self.MIN_TOKENS) % self.STEP
        return tokens, cached


async def _sse(
    completion_id: str,
    created: int,
    model: str,
    content: str | None,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
    refused: str | None = None,
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        data: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if include_usage:
            data["usage"] = None
        return f"data: {json.dumps(data)}\n\n".encode()

    yield chunk({"role": "assistant", "content": "" if not calls or content else None, "refusal": None})
    if refused:
        yield chunk({"refusal": refused})
    if content:
        words = re.findall(r"\S+\s*|\s+", content)
        for word in words:
            yield chunk({"content": word})
            await asyncio.sleep(0)
    for i, call in enumerate(calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 16):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[start : start + 16]}}]})
            await asyncio.sleep(0)
    yield chunk({}, finish)
    if include_usage:
        yield (
            "data: "
            + json.dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "service_tier": "default",
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage,
                }
            )
            + "\n\n"
        ).encode()
    yield b"data: [DONE]\n\n"


def _error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def _reply_error(reply: ErrorReply, model: str) -> JSONResponse:
    headers: dict[str, str] = {"x-request-id": new_id("req", 32)}
    if reply.retry_after is not None:
        headers["retry-after"] = f"{reply.retry_after:g}"
        headers["retry-after-ms"] = str(int(reply.retry_after * 1000))
    if reply.status == 429:
        wait = f"{reply.retry_after:g}s" if reply.retry_after is not None else "a moment"
        message = reply.message or (
            f"Rate limit reached for {model} in organization org-fake on tokens per min "
            f"(TPM): Limit 30000, Used 30000, Requested 1000. Please try again in {wait}."
        )
        return _error_response(
            429, message, reply.type or "tokens", reply.code or "rate_limit_exceeded", headers=headers
        )
    if reply.status >= 500:
        message = reply.message or ("The server had an error while processing your request. Sorry about that!")
        return _error_response(reply.status, message, reply.type or "server_error", reply.code, headers=headers)
    return _error_response(
        reply.status,
        reply.message or "Invalid request.",
        reply.type or "invalid_request_error",
        reply.code,
        headers=headers,
    )
