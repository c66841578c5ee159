"""What a completion looks like on the wire: usage with the prompt-cache tokens OpenAI would report, and the
streamed (SSE) chunks of a reply."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from tests.fakes.chat.script import estimate_tokens, message_text


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


async def sse_chunks(
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
