"""What a model call's usage says beyond prompt and completion tokens: cached input and reasoning tokens.

AutoGen 0.7.5's RequestUsage keeps only prompt_tokens and completion_tokens, so the Chat Completions response's
`usage.prompt_tokens_details.cached_tokens` (input the provider served from its prompt cache, billed cheaper)
and `usage.completion_tokens_details.reasoning_tokens` (already counted in completion_tokens) are lost inside
OpenAIChatCompletionClient.create. They are read here from the HTTP response instead:

- MeteredChatCompletionClient (agents/models/metering.py) puts a fresh `CallDetails` in a context variable around the
  inner create. asyncio copies the context into every task it starts (AutoGen wraps the SDK call in
  ensure_future), so the variable is not set again from below: the holder object is shared and filled in place.
- The OpenAI client's HTTP client gets a response hook (`details_http_client`), a public seam of both libraries
  (AutoGen passes `http_client` through to AsyncOpenAI; httpx calls response hooks in the task that sent the
  request). The hook reads the JSON body, which httpx keeps for the SDK; the body is small next to the call.

Why not wrap `OpenAIChatCompletionClient._client.chat.completions.create`: a private attribute of AutoGen, and
a wrapped bound method on a shared SDK object. A logging handler on AutoGen's LLMCallEvent would need INFO
logging on. Streams (text/event-stream) are left alone: reading them in a hook would consume them, and the team
does not stream; such calls report 0 cached tokens, so their input is priced as uncached input (an upper bound).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from openai import DefaultAsyncHttpxClient


@dataclass
class CallDetails:
    """The extra usage figures of one model call, as the provider reported them (0 when it did not)."""

    cached_prompt_tokens: int = 0
    reasoning_tokens: int = 0


_current: ContextVar[CallDetails | None] = ContextVar("model_call_details", default=None)


@contextmanager
def collect_details() -> Iterator[CallDetails]:
    """A fresh holder for the model call started inside the block (start its task there: the task copies the
    context, so it keeps seeing this holder after the block)."""
    holder = CallDetails()
    token = _current.set(holder)
    try:
        yield holder
    finally:
        _current.reset(token)


def read_usage_details(usage: Any) -> CallDetails:
    """CallDetails from a Chat Completions `usage` object (a dict); missing or null fields count 0."""
    if not isinstance(usage, dict):
        return CallDetails()
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return CallDetails(
        cached_prompt_tokens=_count(prompt.get("cached_tokens") if isinstance(prompt, dict) else None),
        reasoning_tokens=_count(completion.get("reasoning_tokens") if isinstance(completion, dict) else None),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


class _Response(Protocol):
    """What the hook reads of an HTTP response (the SDK's httpx flavour: it ships its own)."""

    @property
    def status_code(self) -> int: ...
    @property
    def url(self) -> Any: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    async def aread(self) -> bytes: ...


async def record_response_details(response: _Response) -> None:
    """httpx response hook: copy a chat completion's cached and reasoning tokens into the running call's holder.
    Errors, streams and other endpoints are skipped; the SDK retries a failed call and the last answer wins."""
    holder = _current.get()
    if holder is None or response.status_code != 200 or not response.url.path.endswith("/chat/completions"):
        return
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    try:
        body = json.loads(await response.aread())
    except ValueError:
        return  # the SDK reports a bad body itself
    found = read_usage_details(body.get("usage") if isinstance(body, dict) else None)
    holder.cached_prompt_tokens, holder.reasoning_tokens = found.cached_prompt_tokens, found.reasoning_tokens


def details_http_client() -> DefaultAsyncHttpxClient:
    """The HTTP client for an AsyncOpenAI: the SDK's defaults (limits, timeouts, redirects) plus the hook."""
    return DefaultAsyncHttpxClient(event_hooks={"response": [record_response_details]})
