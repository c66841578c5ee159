"""What `POST /v1/chat/completions` accepts, as strictly as the real API: its parameters (from the installed SDK),
`tool_choice` and strict tool schemas, replies a request makes impossible, and errors shaped like the API's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from starlette.responses import JSONResponse

from tests.fakes.chat.replies import ErrorReply, Text, ToolCalls
from tests.fakes.common.ids import new_id

CHAT_PARAMS = frozenset(
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


def error_response(
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


def reply_error(reply: ErrorReply, model: str) -> JSONResponse:
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
        return error_response(
            429, message, reply.type or "tokens", reply.code or "rate_limit_exceeded", headers=headers
        )
    if reply.status >= 500:
        message = reply.message or ("The server had an error while processing your request. Sorry about that!")
        return error_response(reply.status, message, reply.type or "server_error", reply.code, headers=headers)
    return error_response(
        reply.status,
        reply.message or "Invalid request.",
        reply.type or "invalid_request_error",
        reply.code,
        headers=headers,
    )
