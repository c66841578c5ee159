"""`/v1/chat/completions`: ChatFake checks each request like the real API, answers from its ChatScript (JSON or a
stream) and keeps every request for the test to read."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.fakes.chat.replies import Delay, Dynamic, ErrorReply, Reply, Text, ToolCalls
from tests.fakes.chat.rules import (
    CHAT_PARAMS,
    REASONING_TOKENS,
    RESOLVED_MODELS,
    error_response,
    reply_error,
    reply_violation,
    tool_choice_error,
)
from tests.fakes.chat.script import ChatRequest, ChatScript, estimate_tokens, message_text
from tests.fakes.chat.wire import PromptCache, sse_chunks
from tests.fakes.common.ids import new_chat_call_id, new_id
from tests.fakes.models import ModelCatalog, chat_refusal, model_not_found_body


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
            return error_response(
                400, f"We could not parse the JSON body of your request. ({exc})", "invalid_request_error", None
            )
        for required in ("model", "messages"):
            if required not in body:
                return error_response(
                    400,
                    f"Missing required parameter: '{required}'.",
                    "invalid_request_error",
                    "missing_required_parameter",
                    param=required,
                )
        unknown = sorted(set(body) - CHAT_PARAMS)
        if unknown:
            with self._lock:
                self._rejected.append((copy.deepcopy(body), unknown[0]))
            return error_response(
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
            return error_response(400, invalid, "invalid_request_error", None, param=param)
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
                return error_response(
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
                return reply_error(reply, record.model)
            assert isinstance(reply, (Text, ToolCalls)), f"unsupported scripted reply {reply!r}"
            impossible = reply_violation(body, reply)
            if impossible is not None:
                with self._lock:
                    self._rejected.append((copy.deepcopy(body), f"scripted reply: {impossible}"))
                record.status = 500
                return error_response(
                    500, f"FakeOpenAI: the scripted reply is impossible here: {impossible}", "server_error", None
                )
            return self._completion(record, body, reply)

    def _completion(self, record: ChatRequest, body: dict[str, Any], reply: Text | ToolCalls) -> Response:
        # Like the real API, tool definitions count as prompt tokens too.
        tool_chars = len(json.dumps(record.tools)) if record.tools else 0
        prompt_chars = sum(len(message_text(m)) for m in record.messages) + tool_chars
        content = reply.content
        refused = reply.refusal if isinstance(reply, Text) else None
        calls: list[dict[str, Any]] = [
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
                sse_chunks(completion_id, created, model, content, calls, finish, usage, include_usage, refused),
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
